"""`harmoniq seq build|check`."""
import click

@click.group()
def seq():
    """Build and check Pulseq .seq files."""
