"""Settings describe the environment (paths, models, limits); flow parameters describe a run.

One tree, built once per run (`get_settings()`, from `CORPUSFLOW_*` environment variables or a
`.env` file, then any command-line overrides) and handed explicitly to the flows and from them to
the stages. Each section is the whole configuration of one part: the HTTP client takes
`settings.fetch`, extraction `settings.extract`, and so on; no part keeps defaults of its own.
The environment variables keep their flat names (`CORPUSFLOW_DB_PATH`, not
`CORPUSFLOW_WAREHOUSE__DB_PATH`), so existing set-ups and deployments read the same.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

PREFIX = "CORPUSFLOW_"
ENV_FILE = ".env"

# A key no field has is an error (`extra="forbid"`), in a JSON-valued setting as in a flow's
# `settings` parameter, whose Prefect form schema then says `additionalProperties: false`. Every
# section reads the one .env file, so each takes from it only the variables of its own fields
# (`dotenv_filtering`, pydantic-settings 2.14): the others' would be extra keys. A variable that
# no setting reads is not an error but a warning (`unused_variables`). The Prefect form titles
# each field by its own name, also a field read from a historic flat variable (its alias).
_ENV = SettingsConfigDict(env_prefix=PREFIX, env_file=ENV_FILE, extra="forbid",
                          dotenv_filtering="only_existing", populate_by_name=True,
                          field_title_generator=lambda name, _: name.replace("_", " ").title())


def _env(name: str) -> AliasChoices:
    """A field read from `CORPUSFLOW_<name>` (its historic flat name) or set by its own name."""
    return AliasChoices(f"CORPUSFLOW_{name}")


class WarehouseSettings(BaseSettings):
    """The DuckDB file and how a run holds it."""

    model_config = _ENV

    db_path: Path = Field(
        Path("data/corpus.duckdb"), description="The DuckDB warehouse file (created if missing)."
    )
    lock_timeout_s: float = Field(
        120.0, description="How long a run waits for a warehouse another run holds before failing."
    )
    duckdb_memory_limit: str | None = Field(
        None,
        description="DuckDB's memory limit per connection (its own default is 80% of the "
        "machine's memory, which its page cache fills as the warehouse grows); larger sorts and "
        "joins spill to `<db>.tmp`. None: a quarter of the memory budget, at most the budget "
        "less 450 MB (62 MB at 512); with a pool of tagging workers, a quarter of what the "
        "workers, the fixed 450 MB and Prefect's server leave (at least 64 MB: 64 at 1536 with "
        "two workers).",
    )


class FilesSettings(BaseSettings):
    """Article files: where they are by default, how large one may be, when one is written."""

    model_config = _ENV

    inbox: list[str] = Field(
        ["seeds"], examples=[["seeds/*.txt"]],
        description="Default inbox: directories or globs of article files.",
    )
    max_file_bytes: int = Field(
        50_000_000, description="Files larger than this are rejected as too_large."
    )
    max_text_chars: int | None = Field(
        None, ge=1000,
        description="A document whose text (after reading, before cleaning) is longer is "
        "rejected as too_large, with both sizes. None: from the memory budget (2.5 million "
        "characters at 1536 MB, twenty times the longest news article).",
    )
    max_batch_bytes: int | None = Field(
        None, ge=1,
        description="Bytes of files one batch reads at most (a batch also stops at its file "
        "count). None: from the memory budget.",
    )
    max_part_records: int | None = Field(
        None, ge=1,
        description="Records of a JSON Lines file one batch reads at most (a large file is read "
        "in parts). None: from the memory budget (4 per MB of budget: 6,144 at 1536 MB).",
    )
    settle_s: float = Field(
        2.0, ge=0,
        description="A file modified less than this many seconds ago (or stamped that far "
        "ahead of the clock) may still be being written: it is left for the next run, counted "
        "and logged as settling, not read half-way. 0: read every file at once.",
    )


class LanguageSettings(BaseSettings):
    """When langdetect's answer is trusted."""

    model_config = _ENV

    min_letters: int = Field(
        20, validation_alias=_env("LANGUAGE_MIN_LETTERS"),
        description="Texts with fewer letters (letters and combining marks) than this get "
        "language 'und'.",
    )
    min_prob: float = Field(
        0.90, validation_alias=_env("LANGUAGE_MIN_PROB"),
        description="Top langdetect probability below which langdetect is unsure and the "
        "text's word frequencies may overrule it, as they may on any text of 20 words or fewer "
        "(never 'und' for this reason; the probability of the answer is stored).",
    )


class EntitySettings(BaseSettings):
    """Which entity models tag which language, and the analysts' alias file."""

    model_config = _ENV

    ner_models: dict[str, str] = Field(
        default_factory=dict, examples=[{"en": "en_core_web_sm"}],
        description="spaCy package or path per language code, e.g. {\"en\": \"en_core_web_sm\"}; "
        "a missing one falls back to the bundled model (tasks/models/<lang>) and gazetteer.",
    )
    alias_file: Path | None = Field(
        None,
        description="A JSON Lines file of entity aliases, one {\"alias\", \"key\"[, \"label\", "
        "\"language\"]} per line, loaded into entity_aliases at every run (SQL rows win).",
    )


# The sections set only as one JSON object read no variable of their own: as settings they
# would also read CORPUSFLOW_THRESHOLD, one flat name for both thresholds.
_JSON_SECTION = ConfigDict(extra="forbid", field_title_generator=_ENV["field_title_generator"])


class DedupSettings(BaseModel):
    """Near-duplicate detection (MinHash over word shingles, LSH banding). Set as one JSON
    object in CORPUSFLOW_NEAR_DUPLICATES; after changing it, `corpus dedup` recomputes."""

    model_config = _JSON_SECTION

    shingle_size: int = Field(5, ge=1, description="Words per shingle.")
    num_perm: int = Field(128, ge=1, description="MinHash permutations.")
    bands: int = Field(32, ge=1, description="LSH bands (num_perm must divide by it).")
    threshold: float = Field(0.6, gt=0, le=1,
                             description="Jaccard similarity a candidate pair must reach.")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


class StorySettings(BaseModel):
    """Story grouping (tasks/stories.py). Set as one JSON object in CORPUSFLOW_STORIES; after
    changing it, `corpus regroup` groups the stored documents again."""

    model_config = _JSON_SECTION

    threshold: float = Field(
        0.2, gt=0, le=1,
        description="Link score (mostly the cosine of the two documents' content words, see "
        "tasks/stories.py) at which a document joins the story of the earlier document it "
        "links to.",
    )
    window_days: int = Field(
        3, ge=0, description="Documents further apart than this many days (by publication "
        "date, else the day they were first seen) are never linked.",
    )
    root_floor: float = Field(
        0.15, ge=0, le=1,
        description="A document joins a story only if its score with the story's first "
        "document also reaches this, so that stories do not drift along chains of links.",
    )


class RunnerSettings(BaseSettings):
    """Where the heavy, pure stages run."""

    model_config = _ENV

    task_runner: Literal["threads", "processes", "dask"] = Field(
        "threads",
        description="Where parsing, cleaning, language and entity tagging run: 'threads' (one "
        "batch at a time, in the flow's process), 'processes' (a local pool of `workers`) or "
        "'dask' (a Dask cluster: `dask_address`, or a local one of `workers`). The warehouse is "
        "always written by the flow's own process, one batch at a time.",
    )
    workers: int | None = Field(
        None, ge=1,
        description="Processes for the heavy stages: under 'threads', the pool that tags "
        "entities (1: no pool, tagging in the flow's process); under 'processes', the pool; for "
        "a local Dask cluster, its workers. None: one per core, as many as the memory budget "
        "holds (a tagging worker takes about 300 MB).",
    )
    dask_address: str | None = Field(
        None, description="Address of an existing Dask scheduler (e.g. tcp://10.0.0.5:8786)."
    )


# The host names tasks/urls.py (normalize_host) accepts, once lower-cased and IDNA-encoded.
_HOST_NAME = re.compile(r"[a-z0-9_.-]+")


def _allowed_destination(entry: str) -> str:
    """An allowed_networks entry as tasks/urls.py (AddressPolicy) reads it: an address, a network
    or a host name. Refused here, so that a run does not stop at its first URL: anything else,
    a host with a port above all ('localhost:8765'; the policy is about hosts, not ports)."""
    text = entry.strip()
    if not text:  # skipped by the policy
        return entry
    try:
        ipaddress.ip_network(text, strict=False)
        return entry
    except ValueError:
        pass
    try:
        host = text.rstrip(".").lower().encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not _HOST_NAME.fullmatch(host):
        raise ValueError("expected an address like 127.0.0.1, a network like 10.0.0.0/8 or a "
                         "host name, without a port")
    return entry


AllowedDestination = Annotated[str, AfterValidator(_allowed_destination)]


class FetchSettings(BaseSettings):
    """How pages, feeds and sitemaps are fetched: politely, bounded, and kept."""

    model_config = _ENV

    product: str = Field("corpusflow/0.1", description="Product token of the User-Agent.")
    contact: str = Field(
        "mailto:corpusflow@example.org",
        description="How site operators reach you; sent in the User-Agent. Set it to yours.",
    )
    robots_token: str = Field("corpusflow", description="Our name in robots.txt groups.")
    obey_robots: bool = Field(
        True, description="Read and obey robots.txt (turn off only for sites you own)."
    )
    per_host_interval_s: float = Field(
        1.0, ge=0, description="Minimum seconds between two requests to one host "
        "(a robots.txt Crawl-delay, when longer, wins)."
    )
    per_host_concurrency: int = Field(1, ge=1, description="Requests in flight to one host.")
    max_workers: int = Field(8, ge=1, validation_alias=_env("FETCH_WORKERS"),
                             description="Threads fetching a batch.")
    connect_timeout_s: float = Field(5.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(10.0, gt=0, description="Longest silence while reading.")
    total_timeout_s: float = Field(
        30.0, gt=0, validation_alias=_env("FETCH_TIMEOUT_S"),
        description="Deadline for one HTTP exchange (connect, headers and body).",
    )
    max_bytes: int = Field(
        5_000_000, ge=1, validation_alias=_env("MAX_FETCH_BYTES"),
        description="Response bodies larger than this are rejected as too_large.",
    )
    robots_max_bytes: int = Field(512_000, ge=1, description="robots.txt is cut at this size.")
    max_redirects: int = Field(5, ge=0, description="Redirects followed per URL.")
    max_retries: int = Field(2, ge=0, description="Retries of 408/429/5xx answers per URL.")
    backoff_base_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")
    backoff_max_s: float = Field(30.0, ge=0, description="Longest backoff between retries.")
    retry_after_max_s: float = Field(
        60.0, ge=0, description="A longer Retry-After ends the URL's retries for this run."
    )
    max_crawl_delay_s: float = Field(30.0, ge=0, description="Crawl-delay values are capped here.")
    allowed_networks: tuple[AllowedDestination, ...] = Field(
        (), examples=[["127.0.0.1", "10.0.0.0/8"]],
        description="Private or loopback hosts/networks that may be fetched anyway "
        "(e.g. [\"127.0.0.1\"]); all others are refused.",
    )
    archive_dir: Path = Field(
        Path("data/archive"),
        description="Where fetched bodies are kept, compressed and content-addressed.",
    )

    @property
    def user_agent(self) -> str:
        """The User-Agent header: product and contact, as crawlers that sites tolerate send."""
        return f"{self.product} (+{self.contact})"


class DiscoverSettings(BaseSettings):
    """Caps that keep one URL run bounded, whatever its lists, feeds and sitemaps hold."""

    model_config = _ENV

    max_urls_per_run: int = Field(1000, ge=0, description="Article URLs fetched per run.")
    max_urls_per_source: int = Field(
        500, ge=0, description="URLs kept from one feed, sitemap or list (the newest first)."
    )
    max_sitemaps_per_run: int = Field(
        50, ge=0, description="Sitemap files fetched per run, index children included."
    )
    max_sitemap_depth: int = Field(2, ge=0, description="Levels of sitemap indexes followed.")
    max_xml_bytes: int = Field(
        50_000_000, ge=1, description="Largest decompressed sitemap (the sitemaps.org limit)."
    )
    max_url_attempts: int = Field(
        6, ge=1, description="Fetches of a URL, over later runs, while it fails for a reason "
        "that may pass (site down, timeout, DNS, HTTP 404/408/429/5xx, robots.txt, an address "
        "not allowed yet); then it stays a reject.",
    )


class ExtractSettings(BaseSettings):
    """How article text is taken out of a fetched page (see tasks/extract.py for the timeout)."""

    model_config = _ENV

    timeout_s: float = Field(
        10.0, gt=0, validation_alias=_env("EXTRACTION_TIMEOUT_S"),
        description="Deadline for extracting one page, counted once its worker has started; "
        "the worker is killed and replaced.",
    )
    processes: int = Field(1, ge=1, validation_alias=_env("EXTRACTION_PROCESSES"),
                           description="Extraction worker processes.")
    min_text_chars: int = Field(250, ge=0, description="Shorter extractions are too_short.")
    index_link_ratio: float = Field(
        0.5, gt=0, le=1,
        description="Share of the extracted text made of link texts from which a page is an "
        "index_page.",
    )
    index_min_links: int = Field(
        5, ge=1, description="Link texts an index_page must show at least."
    )
    favor_precision: bool = Field(
        False, description="trafilatura's precision preset alone. False: that preset first, and "
        "its default pass too where the first looks short against the page's paragraphs.")
    max_page_bytes: int | None = Field(
        None, ge=1,
        description="A page (fetched, or an .html file) larger than this is rejected as "
        "too_large before it is parsed. None: from the memory budget.",
    )


class Settings(BaseSettings):
    """corpusflow's settings: one section per part of the pipeline, and the memory budget that
    sizes the parts no setting names explicitly."""

    model_config = _ENV

    memory_budget_mb: int = Field(
        1536, ge=256,
        description="The most memory (resident, MB) a run may take, whatever its inputs: it sets "
        "DuckDB's memory limit, the longest text a document may have, the largest page that is "
        "parsed and how many bytes of files one batch reads. A setting given explicitly wins.",
    )
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    files: FilesSettings = Field(default_factory=FilesSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    entities: EntitySettings = Field(default_factory=EntitySettings)
    dedup: DedupSettings = Field(
        default_factory=DedupSettings, validation_alias=_env("NEAR_DUPLICATES")
    )
    stories: StorySettings = Field(
        default_factory=StorySettings, validation_alias=_env("STORIES")
    )
    runners: RunnerSettings = Field(default_factory=RunnerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    discover: DiscoverSettings = Field(default_factory=DiscoverSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)

    @model_validator(mode="after")
    def _size_from_budget(self) -> Settings:
        # Measured with bench/memory.py: Prefect, spaCy and the models take about 400 MB before
        # any document; a long text then costs up to ~450 bytes of peak memory per character
        # (its mentions, ~1 KB each, dominate), many small records ~20 KB each, and an HTML page
        # ~25 bytes per byte while lxml and trafilatura read it.
        free = max(self.memory_budget_mb - 450, 64) * 2**20
        if self.runners.workers is None:
            self.runners.workers = min(os.cpu_count() or 1,
                                       max(1, (self.memory_budget_mb - 600) // 300))
        if self.warehouse.duckdb_memory_limit is None:
            remote = self.runners.task_runner == "dask" and self.runners.dask_address
            share = duckdb_share(self.memory_budget_mb, 1 if remote else self.runners.workers)
            self.warehouse.duckdb_memory_limit = f"{share}MB"
        if self.files.max_text_chars is None:
            self.files.max_text_chars = max(free // 450, 50_000)
        if self.files.max_batch_bytes is None:
            self.files.max_batch_bytes = self.memory_budget_mb * 2**20 // 1000
        if self.files.max_part_records is None:
            self.files.max_part_records = self.memory_budget_mb * 4
        if self.extract.max_page_bytes is None:
            self.extract.max_page_bytes = free // 25
        return self


def without_workers(settings: Settings) -> Settings:
    """The settings for a run that tags nothing (regrouping stories): no pool of tagging workers
    shares the memory budget, so DuckDB gets the one-process share where its limit (in MB) is
    smaller. Regrouping holds every story row in one transaction."""
    limit = str(settings.warehouse.duckdb_memory_limit or "")
    share = duckdb_share(settings.memory_budget_mb, 1)
    if limit.upper().endswith("MB") and limit[:-2].strip().isdigit() and int(limit[:-2]) < share:
        settings = settings.model_copy(deep=True)
        settings.warehouse.duckdb_memory_limit = f"{share}MB"
    return settings


def duckdb_share(budget_mb: int, workers: int) -> int:
    """DuckDB's memory limit (MB) in a budget: a quarter of it, at most what the fixed ~450 MB
    leave of a small one (62 MB at 512). With a pool of tagging workers (more than one), a
    quarter of what is left after the fixed 450 MB, about 300 MB per worker and about 250 MB of
    the Prefect server a `corpus run` starts, and at least 64 MB (64 at 1536 with two workers,
    187 at 2048). DuckDB's page cache fills to its limit as the warehouse grows: on 100,000
    generated files (bench/scale.py) the flow's process grew by about the limit, and with 156 MB
    the whole tree passed 1.5 GB a third of the way in; the 512 MB budget runs 1,000,000
    records with 62 MB. The run's report counts its top entities in pieces so that 64 MB do
    (one query over 100,000 documents' 4.4 million mentions needed more)."""
    if workers > 1:
        return max(64, (budget_mb - 450 - 300 * workers - 250) // 4)
    return max(32, min(budget_mb // 4, budget_mb - 450))


def get_settings() -> Settings:
    """Settings read now from the environment (no caching: tests change the environment). A flow
    calls this once, when its caller passed none, and hands the tree on. Raises BadSettings, one
    line per bad variable, where pydantic would raise a page about its internal field names."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as error:
        raise BadSettings(settings_problems() or [str(error)]) from None


# ---- What a person is told about the variables they set -------------------------------------


class BadSettings(ValueError):
    """Settings from the environment or .env that cannot be used. `problems`: one line each,
    naming the variable, the value given and what is expected."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


SECTIONS: tuple[type[BaseSettings], ...] = tuple(
    field.annotation for field in Settings.model_fields.values()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings)
)


def _aliases(field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [alias] if isinstance(alias, str) else []


def variable_of(name: str, field: FieldInfo) -> str:
    """The environment variable that sets a field: its alias, else the prefix and its name."""
    aliases = _aliases(field)
    return aliases[0].upper() if aliases else f"{PREFIX}{name.upper()}"


def known_variables() -> set[str]:
    """Every variable a setting reads: the top level's (the memory budget, each section as one
    JSON object) and each section's own fields."""
    return {variable_of(name, field) for model in (Settings, *SECTIONS)
            for name, field in model.model_fields.items()}


@dataclass(frozen=True)
class GivenVariables:
    """The CORPUSFLOW_* variables set in the environment and in .env, by upper-case name (the
    settings read them case-insensitively, and the environment wins over .env)."""

    environ: dict[str, str]
    dotenv: dict[str, str]

    @classmethod
    def read(cls) -> GivenVariables:
        """As the settings would read them now, from this process and ./.env."""
        dotenv = dotenv_values(ENV_FILE) if Path(ENV_FILE).is_file() else {}
        return cls({k.upper(): v for k, v in os.environ.items() if k.upper().startswith(PREFIX)},
                   {k.upper(): v or "" for k, v in dotenv.items()
                    if k.upper().startswith(PREFIX)})

    def where(self, variable: str) -> str:
        """' (in .env)' for a variable that only .env sets: the place to correct it."""
        only_dotenv = variable not in self.environ and variable in self.dotenv
        return f" (in {ENV_FILE})" if only_dotenv else ""

    def value(self, variable: str) -> str:
        return self.environ.get(variable, self.dotenv.get(variable, ""))


def unused_variables(given: GivenVariables | None = None) -> list[str]:
    """One line per CORPUSFLOW_* variable (environment or .env) that no setting reads, with the
    closest known name when one is close: a misspelt setting would otherwise be silently left
    at its default."""
    given = given or GivenVariables.read()
    known = known_variables()
    lines = []
    for name in [*given.environ, *(n for n in given.dotenv if n not in given.environ)]:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.85)
            hint = f" (did you mean {close[0]}?)" if close else ""
            lines.append(f"{name}{given.where(name)} is not a setting and is ignored{hint}")
    return lines


def settings_problems(given: GivenVariables | None = None) -> list[str]:
    """Every problem with the settings the environment and .env give, one line each. Each
    section is built on its own, so that a bad variable in one does not hide another's; the top
    level (the memory budget, the JSON-valued sections) is checked once they all build."""
    given = given or GivenVariables.read()
    problems = [line for model in SECTIONS for line in _problems_building(model, given)]
    return list(dict.fromkeys(problems or _problems_building(Settings, given)))


def _problems_building(model: type[BaseSettings], given: GivenVariables) -> list[str]:
    try:
        model()
    except ValidationError as error:
        failed = next((m for m in (Settings, *SECTIONS) if m.__name__ == error.title), model)
        return [_describe(failed, detail, given) for detail in error.errors()]
    except SettingsError as error:  # a list, dict or section setting whose value is not JSON
        named = re.search(r'field "([^"]+)"', str(error))
        field = model.model_fields.get(named.group(1)) if named else None
        if named is None or field is None:
            return [str(error)]
        variable = variable_of(named.group(1), field)
        value = given.value(variable)
        return [f"{variable}{given.where(variable)}: expected {_shape(field)}, got {value!r}"]
    return []


def _describe(model: type[BaseModel], detail: ErrorDetails, given: GivenVariables) -> str:
    """One validation error as `VARIABLE["key"][0] (in .env): expected ..., got ...`."""
    loc = detail["loc"]
    if not loc:
        return f"{model.__name__}: {detail['msg']}"
    name, field = _field(model, str(loc[0]))
    variable = variable_of(name, field) if field else f"{PREFIX}{name.upper()}"
    where = given.where(variable)
    container = _model_at(field, loc[1:-1]) if len(loc) > 1 else model
    if detail["type"] == "extra_forbidden":
        keys = list(container.model_fields) if container else []
        close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (f"{variable}{_path(loc[1:-1])}{where}: unknown key {loc[-1]!r}{hint}; "
                f"the keys are {', '.join(keys)}")
    if len(loc) == 1:
        leaf = field
    else:
        leaf = container.model_fields.get(str(loc[-1])) if container else None
    return (f"{variable}{_path(loc[1:])}{where}: {_expected(detail, leaf)}, "
            f"got {_shown(detail['input'])}")


def _field(model: type[BaseModel], key: str) -> tuple[str, FieldInfo | None]:
    """The field an error's location starts with: by name or by alias, case-insensitively (as
    the environment is read)."""
    for name, field in model.model_fields.items():
        if key.lower() in {name.lower(), *(alias.lower() for alias in _aliases(field))}:
            return name, field
    return key, None


def _model_at(field: FieldInfo | None, path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds a location inside a JSON-valued setting (None below a list)."""
    model = _model_of(field)
    for key in path:
        model = _model_of(model.model_fields.get(str(key))) if model else None
    return model


def _model_of(field: FieldInfo | None) -> type[BaseModel] | None:
    annotation = field.annotation if field else None
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation if is_model else None


def _path(path: tuple[int | str, ...]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f'["{key}"]' for key in path)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


_EXPECTED = {
    "float_parsing": "expected a number", "float_type": "expected a number",
    "int_parsing": "expected a whole number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false", "bool_type": "expected true or false",
    "string_type": "expected a string",
}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
_COMPLEX = {"list_type", "tuple_type", "dict_type", "model_type", "model_attributes_type"}


def _expected(detail: ErrorDetails, field: FieldInfo | None) -> str:
    """What the setting takes, in words, from pydantic's error and the field's type."""
    kind, ctx = detail["type"], detail.get("ctx", {})
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"expected {words} {ctx[key]}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}"
    if kind == "value_error":
        return str(ctx["error"])
    if kind in _COMPLEX and field is not None:
        return f"expected {_shape(field)}"
    return detail["msg"][:1].lower() + detail["msg"][1:]


def _shape(field: FieldInfo) -> str:
    """How a list, dict or section setting is written: "a JSON list like '[...]'", with the
    field's example, or a section's first three defaults."""
    section = _model_of(field)
    if section:
        defaults = {name: f.default for name, f in section.model_fields.items()
                    if type(f.default) in (int, float, str)}
        return f"a JSON object like '{json.dumps(dict(list(defaults.items())[:3]))}'"
    kind = "object" if get_origin(field.annotation) is dict else "list"
    example = f" like '{json.dumps(field.examples[0])}'" if field.examples else ""
    return f"a JSON {kind}{example}"
