"""`harmoniq protocols ...` and `harmoniq scanners ...`: list and show the shipped catalogues."""
import click

@click.group()
def protocols():
    """Shipped protocol definitions."""

@click.group()
def scanners():
    """Scanner hardware profiles."""
