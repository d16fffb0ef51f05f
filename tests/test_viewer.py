"""The interactive results pages: small, offline, and drawn by a real headless browser."""

import os
import re
import shutil
import subprocess

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from pytorch3d.utils import ico_sphere

from evaluation import viewer


def sample_pages(folder):
    sphere = ico_sphere(4)  # 5120 faces: decimated for display
    mesh = viewer.shape_payload({"verts": 0.4 * sphere.verts_packed(), "faces": sphere.faces_packed()})
    cloud = viewer.shape_payload({"points": torch.rand(4000, 3) - 0.5})
    image = viewer.image_payload(np.full((64, 64, 3), 0.7))
    samples = [
        {
            "image": image,
            "caption": "a sphere",
            "shapes": [("prediction", mesh, "#f08c40"), ("ground truth", mesh, "#5a9ae6")],
        },
        {
            "image": image,
            "caption": "a cloud",
            "shapes": [("prediction", cloud, "#f08c40"), ("ground truth", mesh, "#5a9ae6")],
        },
    ]
    return (
        viewer.write_page(str(folder), "test page", viewer.summary_table(["F1@0.05"], [("model", [97.5])]), samples),
        mesh,
        cloud,
    )


def test_page_is_small_offline_and_complete(tmp_path):
    page, mesh, cloud = sample_pages(tmp_path)
    text = open(page).read()
    assert len(mesh["faces"]) <= viewer.MAX_FACES and len(cloud["points"]) == viewer.MAX_POINTS
    assert os.path.getsize(page) < 400_000 and os.path.getsize(tmp_path / "plotly.min.js") > 1_000_000
    assert re.findall(r'<script src="([^"]+)"', text) == ["plotly.min.js"] and "http" not in "".join(
        re.findall(r"src=\"([^\"]+)\"", text)
    )
    assert text.count('class="sample"') == 2 and "97.5" in text


def find_chromium():
    return next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )


def headless(browser, profile, *args):
    """Run headless Chromium on a local page, WebGL in software; returns its log (stderr)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=20000",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180).stderr


def screenshot(page, tmp_path):
    """Open a page in headless Chromium: (its log, its console lines, the screenshot's (H, W, 3) ints)."""
    shot = tmp_path / "shot.png"
    log = headless(
        find_chromium(), tmp_path / "profile", "--window-size=1200,1100", f"--screenshot={shot}", f"file://{page}"
    )
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    return log, console, iio.imread(shot)[..., :3].astype(int)


def orange_fraction(pixels):
    """Share of the screenshot in the prediction colour (#f08c40, shaded)."""
    return ((abs(pixels[..., 0] - 240) < 60) & (abs(pixels[..., 1] - 140) < 60) & (pixels[..., 2] < 130)).mean()


@pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium: install Debian's chromium (apt-get install chromium) to run the browser test",
)
def test_page_renders_3d_views_in_headless_chromium(tmp_path):
    """The 3D views draw (non-blank canvases of the shapes' colours in a screenshot) and the
    console shows every figure rendered and no error."""
    page, _, _ = sample_pages(tmp_path / "page")
    log, console, pixels = screenshot(page, tmp_path)
    for figure in ("plot0", "plot1"):
        assert any(f"viewer: {figure} drawn" in line for line in console), "\n".join(console) or log[-2000:]
    assert not [line for line in console if "viewer error" in line or "Uncaught" in line], "\n".join(console)
    blue = ((pixels[..., 2] > 150) & (pixels[..., 0] < 150)).mean()
    assert orange_fraction(pixels) > 0.005 and blue > 0.005, (orange_fraction(pixels), blue)


@pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium: install Debian's chromium (apt-get install chromium) to run the browser test",
)
def test_many_views_stay_within_the_browsers_webgl_limit(tmp_path):
    """A --compare page (six 3D views a row, five rows: 30 views, past Chromium's 16 WebGL
    contexts) draws the rows in view, never more than MAX_LIVE_SCENES views alive, and no
    context is lost."""
    sphere = ico_sphere(2)
    mesh = viewer.shape_payload({"verts": 0.4 * sphere.verts_packed(), "faces": sphere.faces_packed()})
    shapes = [(f"run {k} (F1@0.05 90.0)", mesh, "#f08c40") for k in range(5)] + [("ground truth", mesh, "#5a9ae6")]
    samples = [{"image": None, "caption": f"sample {k}", "shapes": shapes} for k in range(5)]
    page = viewer.write_page(str(tmp_path / "page"), "compare", "", samples, name="compare.html")
    log, console, pixels = screenshot(page, tmp_path)
    drawn = [int(m) for line in console for m in re.findall(r"drawn, (\d+) live 3D views", line)]
    assert any("viewer: plot0 drawn" in line for line in console), "\n".join(console) or log[-2000:]
    assert drawn and max(drawn) <= viewer.MAX_LIVE_SCENES, drawn
    assert "Too many active WebGL contexts" not in log and not [line for line in console if "viewer error" in line], (
        "\n".join(console)
    )
    assert orange_fraction(pixels) > 0.005, orange_fraction(pixels)
