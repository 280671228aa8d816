"""Claim tables (papers_repro/<paper>.md) rendered from results.json by papers_repro.render."""
