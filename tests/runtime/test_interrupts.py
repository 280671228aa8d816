"""runtime.interrupts: a Ctrl-C whose raise is swallowed (in a __del__ or gc callback) is still
seen, and neither a results folder nor a progress-bar loop goes on past it."""

import signal

import pytest

from experiments._lib import io
from runtime import interrupts, progress

# the swallowed raise is what these tests make; pytest reports it as an unraisable exception
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def handler():
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert interrupts.install()
    yield
    signal.signal(signal.SIGINT, previous)
    interrupts._pending = False  # the state a fresh process starts in


class _RaisesInDel:
    def __del__(self):
        # the handler runs inside __del__, where Python prints "Exception ignored" and drops the
        # KeyboardInterrupt: the fewshot_retention case (there a gc callback of jax)
        signal.raise_signal(signal.SIGINT)


def _swallowed_sigint():
    obj = _RaisesInDel()
    del obj


def test_a_swallowed_sigint_is_pending_and_raised_again(handler):
    assert not interrupts.pending()
    interrupts.check()  # nothing pending: no raise
    _swallowed_sigint()  # returns normally: the raise was dropped
    assert interrupts.pending()
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_a_plain_sigint_still_raises_where_it_lands(handler):
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert interrupts.pending()


def test_atomic_dir_does_not_commit_after_a_swallowed_sigint(handler, tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "results.json").write_text("previous")
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_dir(final) as tmp:
            (tmp / "results.json").write_text("new")
            _swallowed_sigint()
    assert (final / "results.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_progress_bar_stops_at_its_next_step(handler):
    seen = []
    with pytest.raises(KeyboardInterrupt):
        for i in progress.bar(range(5)):
            seen.append(i)
            if i == 1:
                _swallowed_sigint()
    assert seen == [0, 1]


def test_install_leaves_a_host_handler_alone():
    previous = signal.getsignal(signal.SIGINT)

    def host(signum, frame):
        pass

    signal.signal(signal.SIGINT, host)
    try:
        assert not interrupts.install()
        assert signal.getsignal(signal.SIGINT) is host
    finally:
        signal.signal(signal.SIGINT, previous)
