"""Region risk ratings: the CSV importer (all or nothing, problems by line and column), levels,
and the loaders for the public indices (on generated files, and on the real ones when present)."""

from __future__ import annotations

import pytest

from vendor_portal.graph.domain import regions as r
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.regions import Level


def test_levels_and_scores():
    assert [r.level_for(s) for s in (0, 39.9, 40, 69.9, 70, 89.9, 90, 100)] == [
        Level.LOW,
        Level.LOW,
        Level.MEDIUM,
        Level.MEDIUM,
        Level.HIGH,
        Level.HIGH,
        Level.VERY_HIGH,
        Level.VERY_HIGH,
    ]
    assert r.parse_level("Very high") == (Level.VERY_HIGH, None, None)
    assert r.parse_level("75") == (Level.HIGH, 75.0, None)
    assert r.parse_level("") == (None, None, None)
    assert r.parse_level("101")[2] == "the score 101 is outside 0-100"
    assert "neither a level" in r.parse_level("severe")[2]


def test_csv_import_reads_countries_by_iso2_or_iso3_and_regions_by_name():
    ratings = r.parse_csv(
        "code,name,natural_hazard,political_instability,kind,notes\n"
        "IN,,high,76,country,from our insurer\n"
        "deu,,low,low,,\n"
        "eu-west-1,Dublin region,medium,,region,\n"
    )
    india, germany, dublin = ratings
    assert (india.code, india.name, india.political_instability) == ("IN", "India", Level.HIGH)
    assert india.political_instability_score == 76.0 and india.high_risk
    assert india.details == {"notes": "from our insurer"}
    assert (germany.code, germany.kind, germany.high_risk) == ("DE", "country", False)
    assert (dublin.kind, dublin.code, dublin.natural_hazard) == (
        "region",
        "eu-west-1",
        Level.MEDIUM,
    )
    assert dublin.political_instability is None and dublin.overall == Level.MEDIUM
    assert r.parse_csv(r.to_csv(ratings)) == ratings


def test_csv_problems_name_line_and_column_and_nothing_is_returned():
    with pytest.raises(r.InvalidRatings) as caught:
        r.parse_csv(
            "code,natural_hazard,political_instability\n"
            "IN,high,high\n"
            "XX,low,low\n"
            "FR,dreadful,\n"
            "in,low,low\n"
            "GB,,\n"
        )
    found = [str(p) for p in caught.value.problems]
    assert found == [
        "line 3, column code: 'XX' is not an ISO 3166 country code (2 or 3 letters)",
        "line 4, column natural_hazard: 'dreadful' is neither a level (low, medium, high, very "
        "high) nor a score 0-100",
        "line 5, column code: IN is already rated on line 2",
        "line 6: rate natural_hazard or political_instability (or both)",
    ]
    assert "Nothing was imported (4 problems)" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file: the file is empty"),
        ("code,colour\nIN,red\n", "line 1, column colour: unknown column"),
        ("name,natural_hazard\nIndia,high\n", "line 1, column code: this column is required"),
        ("code,name\nIN,India\n", "line 1: give natural_hazard or political_instability"),
        ("code,natural_hazard\n", "file: no ratings in the file"),
        ("code,natural_hazard\nIN,high,extra\n", "line 2: 3 cells but 2 columns"),
        (b"code,natural_hazard\n\xff\n", "file: not UTF-8 text"),
    ],
)
def test_malformed_files(text, message):
    with pytest.raises(r.InvalidRatings) as caught:
        r.parse_csv(text)
    assert str(caught.value.problems[0]).startswith(message)


WGI = (
    "country_name,iso3,2020,2021,2022\n"
    "Safeland,CHE,1.1,1.2,\n"  # latest non-empty year is used
    "Midland,FRA,0.3,0.3,0.33\n"
    "Rough,AFG,-2.4,-2.5,-2.55\n"
    "Kosovo,XKX,-0.1,0,0.1\n"
)
EXPOSURE = '"ISO3","Name","2019","2020"\n"CHE","x",0.3,0.31\n"FRA","x",0.39,0.4\n"AFG","x",0.48,\n'
VULNERABILITY = '"ISO3","Name","2020"\n"CHE","x",0.25\n"FRA","x",0.3\n"AFG","x",0.58\n'


def test_index_values_take_the_latest_year():
    values = r.latest_values(WGI, "wgi")
    assert values["CHE"] == r.IndexValue(2021, 1.2)
    assert values["AFG"] == r.IndexValue(2022, -2.55)
    assert r.latest_values(EXPOSURE, "exposure")["AFG"] == r.IndexValue(2019, 0.48)
    with pytest.raises(r.IndexFileError, match="expected an ISO3 column"):
        r.latest_values("a,b\n1,2\n", "broken.csv")


def test_percentiles_rank_risk():
    assert r.percentiles({"a": 1.0, "b": 0.0, "c": -1.0}, higher_is_worse=False) == {
        "a": 0.0,
        "b": 50.0,
        "c": 100.0,
    }
    assert r.percentiles({"a": 0.2, "b": 0.2, "c": 0.9}, higher_is_worse=True) == {
        "a": 0.0,
        "b": 0.0,
        "c": 100.0,
    }


def test_ratings_from_indices_map_iso3_and_rank_each_country():
    loaded = r.ratings_from_indices(
        r.latest_values(WGI, "wgi"),
        r.latest_values(EXPOSURE, "exposure"),
        r.latest_values(VULNERABILITY, "vulnerability"),
    )
    by_code = {rating.code: rating for rating in loaded.ratings}
    assert loaded.unmapped == ["XKX"]
    assert set(by_code) == {"CH", "FR", "AF"}
    afghanistan = by_code["AF"]
    assert afghanistan.political_instability == Level.VERY_HIGH
    assert afghanistan.political_instability_score == 100.0
    assert afghanistan.natural_hazard_score == 100.0 and afghanistan.high_risk
    assert afghanistan.details["wgi_political_stability"] == -2.55
    assert afghanistan.details["ndgain_exposure_year"] == 2019
    switzerland = by_code["CH"]
    # Four countries in the WGI file: Switzerland is the safest of them.
    assert switzerland.political_instability_score == 0.0 and not switzerland.high_risk
    assert loaded.years == {"wgi": 2022, "ndgain_exposure": 2020, "ndgain_vulnerability": 2020}


def test_load_indices_names_missing_files(tmp_path):
    with pytest.raises(r.IndexFileError, match="missing wgi_2023update"):
        r.load_indices(tmp_path)


def test_the_real_indices(shared_data):
    loaded = r.load_indices(shared_data / "country_risk")
    by_code = {rating.code: rating for rating in loaded.ratings}
    assert len(by_code) > 200
    assert "XKX" in loaded.unmapped  # Kosovo has no ISO 3166 code
    assert by_code["AF"].political_instability == Level.VERY_HIGH
    assert by_code["CH"].political_instability == Level.LOW
    assert by_code["IN"].high_risk and not by_code["DE"].high_risk
    assert loaded.years["wgi"] == 2022 and loaded.years["ndgain_exposure"] == 2020


def test_rating_book_finds_ratings_by_country_and_region_node():
    book = r.RatingBook(
        r.parse_csv(
            "kind,code,natural_hazard,political_instability\n"
            "country,IE,low,low\nregion,eu-west-1,high,\n"
        )
    )
    g = parse_json(
        {
            "nodes": [
                {
                    "id": "cloud:eu-west-1",
                    "kind": "cloud_region",
                    "name": "eu-west-1",
                    "country": "IE",
                },
                {"id": "svc", "kind": "vendor_service", "country": "ie"},
                {"id": "other", "kind": "component"},
            ]
        }
    )
    region = book.for_node(g.node("cloud:eu-west-1"))
    assert [(x.kind, x.code) for x in region] == [("region", "eu-west-1"), ("country", "IE")]
    assert [x.code for x in book.for_node(g.node("svc"))] == ["IE"]
    assert book.for_node(g.node("other")) == []
