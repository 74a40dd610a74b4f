from vendor_portal.tables import Page, _csv_safe


def test_page_window_shows_ends_and_neighbours():
    assert Page([], page=6, per_page=10, total=200).window() == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert Page([], page=1, per_page=10, total=30).window() == [1, 2, 3]
    assert Page([], page=1, per_page=10, total=0).pages == 1


def test_page_bounds():
    page = Page([], page=3, per_page=10, total=25)
    assert (page.first_index, page.last_index, page.has_next, page.has_prev) == (
        21,
        25,
        False,
        True,
    )


def test_spreadsheet_formulas_are_neutralised():
    assert _csv_safe("=SUM(A1)") == "'=SUM(A1)"
    assert _csv_safe("+1") == "'+1"
    assert _csv_safe("Acme") == "Acme"
    assert _csv_safe(5) == 5
