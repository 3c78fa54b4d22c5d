"""`harmoniq protocols list|show` and `harmoniq scanners list|show`."""

from __future__ import annotations

import json

import click


@click.group()
def protocols():
    """Shipped protocol definitions."""


@protocols.command("list")
def protocols_list():
    """Name, family and targets of every shipped protocol."""
    from harmoniq.protocols import list_protocols, load_protocol

    for name in list_protocols():
        p = load_protocol(name)
        click.echo(f"{name:10s} {p.family:5s} {p.description.split('. ')[0]}.")


@protocols.command("show")
@click.argument("protocol")
def protocols_show(protocol):
    """Description, targets and every parameter (defaults filled in) of PROTOCOL (name or path)."""
    from harmoniq.protocols import load_protocol
    from harmoniq.sequences import check_timing

    p = check_timing(load_protocol(protocol))
    click.echo(f"{p.name} ({p.family}) — {p.path}\n\n{p.description}\n")
    click.echo(f"targets: {', '.join(p.targets)}")
    if p.valid_range:
        click.echo("valid range: " + ", ".join(f"{k} {v[0]:g}..{v[1]:g}" for k, v in p.valid_range.items()))
    click.echo("parameters:")
    for key, value in p.values.items():
        click.echo(f"  {key:28s} {value}")


@click.group()
def scanners():
    """Scanner hardware profiles."""


@scanners.command("list")
def scanners_list():
    """Every shipped scanner profile."""
    from harmoniq.scanners import list_profiles, load_profile

    for name in list_profiles():
        p = load_profile(name)
        click.echo(f"{name:28s} {p.vendor:8s} {p.model:22s} {p.field_t:g} T")


@scanners.command("show")
@click.argument("scanner")
def scanners_show(scanner):
    """Every limit of SCANNER (shipped name or profile file) with its source."""
    from harmoniq.scanners import load_profile

    p = load_profile(scanner)
    click.echo(json.dumps(p.to_dict(), indent=2))
