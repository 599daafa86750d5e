"""Load and validate the workflow configuration.

The schema lives in `mcnn/schemas/config.schema.yaml` (with one schema file per section). The same
schema is used by the Snakefile (`snakemake.utils.validate`) and by the Python entry points, and
validation fills in every default, so a stage never needs a default of its own.

Layering, as the Snakefile does it: the config files given with `--configfile` (merged in order,
later keys win), else the demo's `configs/demo.yaml`; then `--config KEY=VALUE`; then the
schema's defaults for everything still unset. `effective_yaml` writes the result with the
source of every value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "config.schema.yaml"
#: What a run with no --configfile uses (relative to the working directory, as Snakemake reads it).
DEMO_CONFIG = "configs/demo.yaml"
#: The source of a value no layer sets.
DEFAULT = "default"


# libyaml's parser where PyYAML has it: the same documents, ~10 x faster to read the schemas
# (every job that validates a setting reads all of them).
_SchemaLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(Draft202012Validator)


def _registry() -> Registry:
    def retrieve(uri: str) -> Resource:
        path = SCHEMA_DIR / Path(uri.removeprefix("file://")).name
        contents = yaml.load(path.read_text(), Loader=_SchemaLoader)
        # A section file's own `$schema` would make jsonschema validate it with the plain
        # Draft 2020-12 validator, which fills no defaults: resolve it as part of the root schema.
        contents.pop("$schema", None)
        return Resource(contents=contents, specification=DRAFT202012)

    return Registry(retrieve=retrieve)


def schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=_SchemaLoader)


def validate(config: dict) -> dict:
    """Return a validated copy of `config` with all defaults filled in.

    Raises ConfigError naming the key (as a dotted path) and the problem.
    """
    config = copy.deepcopy(config)
    root = schema()
    root["$id"] = SCHEMA_PATH.resolve().as_uri()
    validator = _DefaultFillingValidator(root, registry=_registry())
    error = next(iter(sorted(validator.iter_errors(config), key=lambda e: e.path)), None)
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{key}': {error.message}")
    return config


def read(path: str | Path) -> dict:
    """The mapping in a YAML config file, not validated (OSError for a file that cannot be
    opened, ConfigError for one that is not a YAML mapping)."""
    path = Path(path)
    text = path.read_text()
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not a YAML file: {reason}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    return config


def load(path: str | Path) -> dict:
    """Read a YAML config file and validate it (defaults filled in)."""
    config = read(path)
    try:
        return validate(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


Layers = Sequence[tuple[str, dict]]


def merge(base: dict, overlay: dict) -> dict:
    """`overlay` on `base`, mappings merged key by key (Snakemake's update_config)."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def layered(layers: Layers) -> dict:
    """The validated config of `layers` ((source, mapping), later ones win), defaults filled."""
    merged: dict = {}
    for _, values in layers:
        merged = merge(merged, values)
    return validate(merged)


def fit_variants(config: dict, layers: Layers) -> str | None:
    """Leave `mixed` out of the default variants when there is no image dataset; returns the
    one line that says so (None when nothing was left out). `mixed` asked for explicitly
    without an image dataset is a ConfigError."""
    variants = config["experiments"]["variants"]
    if "mixed" not in variants or config["image_datasets"]:
        return None
    if source(layers, ("experiments", "variants")) != DEFAULT:
        raise ConfigError(
            "config key 'experiments.variants': 'mixed' needs an image dataset in "
            "'image_datasets' (leave 'variants' unset to plan the video-only variants)"
        )
    variants.remove("mixed")
    return "mcnn: variant 'mixed' left out: no image dataset in 'image_datasets'"


def _sets(values: dict, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return True


def source(layers: Layers, path: tuple[str, ...]) -> str:
    """Where the value at `path` comes from: the last layer that sets it, else the default."""
    for name, values in reversed(layers):
        if _sets(values, path):
            return name
    return DEFAULT


def _flow(value) -> str:
    """A value as YAML flow text: JSON, except floats in exponent form get a decimal point
    (YAML 1.1, as PyYAML reads it, takes `1e-05` for a string)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def effective_yaml(config: dict, layers: Layers) -> str:
    """`config` as YAML with each value's source as a comment (values in YAML's flow style).

    Reading the text back with yaml.safe_load gives `config`.
    """
    lines = [
        "# Effective mcnn configuration: every value, with where it comes from",
        f"# ({DEFAULT} = mcnn/schemas/*.schema.yaml, or the config file / --config that set it).",
    ]

    def emit(section: dict, path: tuple[str, ...]) -> None:
        indent = "  " * len(path)
        for key, value in section.items():
            here = (*path, key)
            if isinstance(value, dict) and value:
                lines.append(f"{indent}{key}:")
                emit(value, here)
            else:
                lines.append(f"{indent}{key}: {_flow(value)}  # {source(layers, here)}")

    emit(config, ())
    return "\n".join(lines) + "\n"
