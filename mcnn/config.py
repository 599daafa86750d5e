"""Load and validate the workflow configuration.

The schema lives in `mcnn/schemas/config.schema.yaml` (with one schema file per section). The same
schema is used by the Snakefile (`snakemake.utils.validate`) and by the Python entry points, and
validation fills in every default, so a stage never needs a default of its own.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "config.schema.yaml"


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
        contents = yaml.safe_load(path.read_text())
        # A section file's own `$schema` would make jsonschema validate it with the plain
        # Draft 2020-12 validator, which fills no defaults: resolve it as part of the root schema.
        contents.pop("$schema", None)
        return Resource(contents=contents, specification=DRAFT202012)

    return Registry(retrieve=retrieve)


def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


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


def load(path: str | Path) -> dict:
    """Read a YAML config file and validate it (defaults filled in)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    try:
        return validate(config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
