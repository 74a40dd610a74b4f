"""Browser tests (Playwright, Chromium) against a live server; marked e2e."""
