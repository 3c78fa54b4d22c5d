"""t1-vfa site variants: the VENUS vendor-native VFA protocols, each accepted by every vendor profile."""

import warnings

import pytest

from harmoniq.protocols import load_protocol
from harmoniq.scanners import check, list_profiles, load_profile
from harmoniq.sequences.export import build

# Karakuzu et al., MRM 2022 (VENUS); qMRLab/VENUS index.md (commit c7472b8), VFA protocol table:
# flip 6/20 deg, TR 32/18 ms (PDw/T1w), TE 4 ms in every column; RF phase increment G1 NATIVE (GE)
# 115.4 deg, S1/S2 NATIVE (Siemens) 50 deg. One TR per protocol here: the T1w TR, 18 ms.
VENUS_NATIVE = {"ge": 115.4, "siemens": 50.0}


@pytest.mark.parametrize("vendor", sorted(VENUS_NATIVE))
def test_native_variant_is_the_published_protocol_and_passes_every_profile(vendor):
    variant = load_protocol("t1-vfa").site_variant(vendor)
    values = variant.protocol.values
    assert values["rf_spoiling_inc_deg"] == VENUS_NATIVE[vendor]
    assert (values["flip_deg"], values["tr_ms"], values["te_ms"]) == ([6.0, 20.0], 18.0, [4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq = build(variant.protocol).seq
    reports = {name: check(seq, load_profile(name)) for name in list_profiles()}
    assert {name: r.summary() for name, r in reports.items() if not r.ok} == {}


def test_no_published_philips_variant():
    """VENUS scanned no Philips system: a Philips site runs the protocol itself."""
    protocol = load_protocol("t1-vfa")
    assert protocol.site_variant("philips").protocol.values == protocol.values
