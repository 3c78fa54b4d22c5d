"""mrpro reads harmoniq's simulated Siemens raw data in the same orientation harmoniq reconstructs it.

mrpro conjugates Siemens raw data only when the ISMRMRD header's vendor is exactly "Siemens"
(``mrpro.data.KData.from_file``); with any other vendor string the image comes out point-mirrored.
"""

import nibabel as nib
import numpy as np

import mrpro  # the peer environment (benchmarks/peers.sh); an ImportError means the wrong one


def _nrmse(a, b):
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return float(np.linalg.norm(a - b))


def test_mrpro_image_is_not_mirrored(work, run_cli):
    run_cli("seq", "build", "gre-demo", "-o", "seq", cwd=work)
    run_cli("simulate", "seq/gre-demo.seq", "--scanner", "siemens-prisma-3t", "--phantom", "shepp-logan",
            "--matrix", "64", "--no-noise", "-o", "raw.h5", cwd=work)
    run_cli("recon", "raw.h5", "-o", "img.nii.gz", cwd=work)
    ours = nib.load(work / "img.nii.gz").get_fdata().squeeze()  # (x, y)

    kdata = mrpro.data.KData.from_file(work / "raw.h5", mrpro.data.traj_calculators.KTrajectoryCartesian())
    assert kdata.header.vendor == "Siemens"
    image = mrpro.algorithms.reconstruction.DirectReconstruction(kdata)(kdata)
    theirs = image.rss().squeeze().numpy().T  # mrpro (y, x) -> (x, y)

    mirrored = np.roll(theirs[::-1, ::-1], (1, 1), (0, 1))  # k -> -k on an even grid
    assert _nrmse(ours, theirs) < 0.1, "mrpro's image differs from harmoniq's"
    assert _nrmse(ours, mirrored) > 4 * _nrmse(ours, theirs)
