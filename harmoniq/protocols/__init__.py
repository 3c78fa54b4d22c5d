"""Protocols: load and check protocol files into typed :class:`Protocol` objects (SI inside).

The first stage: it imports nothing from sequences, scanners, simulation, recon or fitting.
"""

from harmoniq.protocols.protocol import Protocol, ReconOptions, SiteVariant, list_protocols, load_protocol

__all__ = ["Protocol", "ReconOptions", "SiteVariant", "list_protocols", "load_protocol"]
