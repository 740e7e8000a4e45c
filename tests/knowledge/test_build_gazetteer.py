"""The gazetteer builder: cities' QIDs from the Countries States Cities database, its subregions, and
the names a record gives up to another."""
from __future__ import annotations

import json
from pathlib import Path

from newsstream.measure.build_gazetteer import (
    Record,
    drop_country_aliases_naming_cities,
    matched_city_qids,
    subregion_records,
    yield_region_names_to_nations,
)


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


def test_subregions_take_their_qids_and_names_in_our_languages(tmp_path: Path) -> None:
    source = tmp_path / "subregions.json"
    source.write_text(json.dumps([
        {"name": "Central Asia", "wikiDataId": "Q27275",
         "translations": {"german": "Zentralasien", "korean": "중앙아시아"}},
        {"name": "Nowhere", "wikiDataId": None, "translations": {}},
    ]), encoding="utf-8")
    [region] = subregion_records(source)
    assert (region.id, region.kind, region.name, region.names) == (
        "Q27275", "region", "Central Asia", {"en": "Central Asia", "de": "Zentralasien"})


def test_a_region_gives_up_the_names_of_countries_and_a_country_the_names_of_cities() -> None:
    south_africa = Record(id="Q258", label="location", kind="country", name="South Africa", names={"de": "Südafrika"})
    southern_africa = Record(id="Q27394", label="location", kind="region", name="Southern Africa",
                             names={"en": "Southern Africa", "de": "Südafrika", "fr": "Afrique australe"})
    brazil = Record(id="Q155", label="location", kind="country", name="Brazil", aliases=["Brasilia", "Brésil"])
    netherlands = Record(id="Q55", label="location", kind="country", name="Netherlands", aliases=["Holland"])
    cities = [Record(id="Q2844", label="location", kind="city", name="Brasília"),
              Record(id="Q1", label="location", kind="city", name="Holland")]
    records = [south_africa, southern_africa, brazil, netherlands, *cities]
    yield_region_names_to_nations(records)
    assert southern_africa.names == {"en": "Southern Africa", "fr": "Afrique australe"}
    assert drop_country_aliases_naming_cities(records) == [("Brazil", "Brasilia")]
    assert (brazil.aliases, netherlands.aliases) == (["Brésil"], ["Holland"])
