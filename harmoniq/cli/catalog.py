"""`harmoniq protocols|profiles|scanners list|show`: what ships with harmoniq.

protocols: protocol definitions; profiles: scanner hardware limits a .seq must meet
(``seq build --profiles``, ``seq check --profile``); scanners: simulated scanner models a
.seq runs in (``simulate``, ``run --scanner``, ``compare --scanners``).
"""

from __future__ import annotations

import click

from harmoniq.cli.options import echo_json, json_option


@click.group()
def protocols():
    """Shipped protocol definitions."""


def _protocol_dict(p) -> dict:
    return {"name": p.name, "family": p.family, "model": p.model, "path": str(p.path), "sha256": p.sha256,
            "description": p.description, "targets": list(p.targets), "requires": list(p.requires),
            "valid_range": {k: list(v) for k, v in p.valid_range.items()}, "parameters": p.values}


@protocols.command("list")
@json_option
def protocols_list(as_json):
    """Name, family and summary of every shipped protocol."""
    from harmoniq.protocols import list_protocols, load_protocol

    loaded = [load_protocol(name) for name in list_protocols()]
    if as_json:
        echo_json([{"name": p.name, "family": p.family, "model": p.model, "description": p.description}
                   for p in loaded])
        return
    for p in loaded:
        click.echo(f"{p.name:10s} {p.family:5s} {p.description.split('. ')[0]}.")


@protocols.command("show")
@click.argument("protocol")
@json_option
def protocols_show(protocol, as_json):
    """Description, targets and every parameter (defaults filled in) of PROTOCOL (name or path)."""
    from harmoniq.protocols import load_protocol
    from harmoniq.sequences import check_timing

    p = check_timing(load_protocol(protocol))
    if as_json:
        echo_json(_protocol_dict(p))
        return
    click.echo(f"{p.name} ({p.family}) — {p.path}\n\n{p.description}\n")
    click.echo(f"targets (profiles): {', '.join(p.targets)}")
    if p.valid_range:
        click.echo("valid range: " + ", ".join(f"{k} {v[0]:g}..{v[1]:g}" for k, v in p.valid_range.items()))
    click.echo("parameters:")
    for key, value in p.values.items():
        click.echo(f"  {key:28s} {value}")


@click.group()
def profiles():
    """Scanner hardware profiles: the limits a .seq must meet (seq build --profiles, seq check --profile)."""


@profiles.command("list")
@json_option
def profiles_list(as_json):
    """Every shipped hardware profile: name, vendor, model, field strength."""
    from harmoniq.scanners.profiles import list_profiles, load_profile

    loaded = [load_profile(name) for name in list_profiles()]
    if as_json:
        echo_json([{key: p.to_dict()[key] for key in ("name", "vendor", "model", "field_strength_T")} for p in loaded])
        return
    for p in loaded:
        click.echo(f"{p.name:28s} {p.vendor:8s} {p.model:22s} {p.field_t:g} T")


@profiles.command("show")
@click.argument("profile")
@json_option
def profiles_show(profile, as_json):
    """Every limit of PROFILE (shipped name or profile file) with its source."""
    from harmoniq.scanners.profiles import load_profile

    record = load_profile(profile).to_dict()
    if as_json:
        echo_json(record)
        return
    sources = record.pop("sources")
    for key, value in record.items():
        source = sources.get(key)
        click.echo(f"{key:28s} {value!s:24s}" + (f" {source}" if source else ""))


@click.group()
def scanners():
    """Simulated scanner models: a hardware profile plus B0, B1, coils, noise (simulate, run, compare)."""


@scanners.command("list")
@json_option
def scanners_list(as_json):
    """Every shipped simulated scanner: name, vendor, field strength, receive channels, description."""
    from harmoniq.simulation.scanner_model import list_scanner_models, load_scanner_model

    loaded = [load_scanner_model(name) for name in list_scanner_models()]
    if as_json:
        echo_json([{"name": m.name, "profile": m.profile, "vendor": m.vendor, "field_strength_T": m.field_t,
                    "channels": m.coils.channels, "description": m.description} for m in loaded])
        return
    for m in loaded:
        click.echo(f"{m.name:28s} {m.vendor:8s} {f'{m.field_t:g} T':6s} {m.coils.channels:3d} ch  {m.description}")


@scanners.command("show")
@click.argument("scanner")
@json_option
def scanners_show(scanner, as_json):
    """Every model value of SCANNER (shipped name or model TOML file), in the file's units."""
    from harmoniq.simulation.scanner_model import load_scanner_model

    record = load_scanner_model(scanner).to_dict()
    if as_json:
        echo_json(record)
        return
    for key, value in record.items():
        if isinstance(value, dict):
            click.echo(f"[{key}]")
            for sub, number in value.items():
                click.echo(f"  {sub:26s} {number}")
        else:
            click.echo(f"{key:28s} {value}")
