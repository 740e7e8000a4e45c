"""How the gazetteer builder takes cities' QIDs from the Countries States Cities database."""
from __future__ import annotations

import json
from pathlib import Path

from newsstream.measure.build_gazetteer import matched_city_qids


def _row(name: str, country: str, lat: float, lon: float, qid: str) -> dict:
    return {"name": name, "country_code": country, "latitude": f"{lat:.5f}", "longitude": f"{lon:.5f}",
            "wikiDataId": qid}


def _city(name: str, country: str, lat: float, lon: float, *alternates: str) -> dict:
    return {"name": name, "countrycode": country, "latitude": lat, "longitude": lon, "alternatenames": list(alternates)}


def test_a_city_takes_the_qid_of_the_nearest_namesake_of_its_country(tmp_path: Path) -> None:
    source = tmp_path / "cities.json"
    source.write_text(json.dumps([
        _row("Seattle", "US", 47.606, -122.332, "Q5083"),
        _row("Colchester", "GB", 51.889, 0.904, "Q184163"), _row("Colchester", "US", 44.54, -73.15, "Q978718"),
        _row("Delhi", "IN", 28.65, 77.23, "Q1353"), _row("Delvada", "IN", 20.77, 71.04, "Q1353"),  # a copied QID
        _row("Farville", "FR", 10.0, 10.0, "Q4242"),  # 50 km from the GeoNames city
        _row("Late", "FR", 20.0, 20.0, "Q21525592"),  # a late twin item
        _row("Realm", "DK", 55.0, 12.0, "Q35"),  # a country's QID
        _row("Kyjiw", "UA", 50.45, 30.52, "Q1899"),  # matched through an alternate name
    ]), encoding="utf-8")
    cities = {
        "1": _city("Seattle", "US", 47.61, -122.33), "2": _city("Colchester", "GB", 51.89, 0.90),
        "3": _city("Delhi", "IN", 28.65, 77.23), "4": _city("Farville", "FR", 10.45, 10.0),
        "5": _city("Late", "FR", 20.0, 20.0), "6": _city("Realm", "DK", 55.0, 12.0),
        "7": _city("Kyiv", "UA", 50.45, 30.52, "Kyjiw"), "8": _city("Seattle", "US", 47.65, -122.30),
    }
    assert matched_city_qids(source, cities, reserved={"Q35"}) == {
        "1": "Q5083",  # the nearer of two GeoNames Seattles
        "2": "Q184163", "7": "Q1899",
    }
