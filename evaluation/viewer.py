"""Results a person can turn around: self-contained HTML pages of 3D predictions beside their inputs and GT.

    write_page(folder, "vox on test", summary_html, samples)   # folder/index.html (+ plotly.min.js)

A page holds a header (the run's F1 curve and table, as HTML), then one row per sample: the input
image, and interactive 3D views of each shape of the row (prediction, GT, or several runs'
predictions) whose cameras move together; rows are drawn as they scroll into view, with at most
MAX_LIVE_SCENES 3D views alive at once (browsers cap WebGL contexts). It is plain HTML with plotly figures (as
`pytorch3d.vis.plotly_vis` draws them); plotly.js is written once beside the page, so the page
opens from the file system with no server and no network. Shapes are decimated and points
subsampled for display only (`utils_vis.decimate_for_display`): metrics never see this.
"""

import base64
import html
import io
import json
import os

import numpy as np
import torch

from common.atomic_io import atomic_path, atomic_write_text

MAX_FACES = 1500  # per displayed mesh: keeps a page of five samples well under a megabyte
MAX_POINTS = 1500
MAX_LIVE_SCENES = 12  # WebGL contexts alive at once; Chromium allows 16 (see the page's script)
COLOURS = {"prediction": "#f08c40", "ground truth": "#5a9ae6"}


def shape_payload(shape: dict) -> dict:
    """A shape for display: {"verts", "faces"} or {"points"} (tensors or arrays, object frame)
    made small (decimated, subsampled, rounded to 1e-4) and JSON-ready."""
    from utils_vis import decimate_for_display

    if "points" in shape:
        points = torch.as_tensor(shape["points"]).float().cpu()
        if len(points) > MAX_POINTS:
            points = points[torch.linspace(0, len(points) - 1, MAX_POINTS).long()]
        return {"points": np.round(points.numpy(), 4).tolist()}
    verts, faces = torch.as_tensor(shape["verts"]).float().cpu(), torch.as_tensor(shape["faces"]).long().cpu()
    if len(faces):
        verts, faces = decimate_for_display(verts, faces, MAX_FACES)
    return {"verts": np.round(verts.numpy(), 4).tolist(), "faces": faces.numpy().tolist()}


def image_payload(image) -> str:
    """(H, W, 3) float [0, 1] or uint8 image -> a data: URL of its PNG."""
    import imageio.v3 as iio

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    iio.imwrite(buffer, array, extension=".png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _trace(payload: dict, colour: str, name: str) -> dict:
    if "points" in payload:
        x, y, z = np.asarray(payload["points"]).T.tolist() if payload["points"] else ([], [], [])
        return {
            "type": "scatter3d",
            "mode": "markers",
            "x": x,
            "y": y,
            "z": z,
            "name": name,
            "marker": {"size": 2, "color": colour},
        }
    verts = np.asarray(payload["verts"]).reshape(-1, 3)
    faces = np.asarray(payload["faces"], dtype=int).reshape(-1, 3)
    return {
        "type": "mesh3d",
        "x": verts[:, 0].tolist(),
        "y": verts[:, 1].tolist(),
        "z": verts[:, 2].tolist(),
        "i": faces[:, 0].tolist(),
        "j": faces[:, 1].tolist(),
        "k": faces[:, 2].tolist(),
        "color": colour,
        "name": name,
        "flatshading": True,
        "lighting": {"ambient": 0.45, "diffuse": 0.7, "specular": 0.15},
    }


def figure_json(shapes: list[tuple[str, dict, str]]) -> dict:
    """One plotly figure with a 3D scene per shape (title, payload, colour), side by side. Scenes
    use the object frame with y up (ShapeNet's), the same axes and the same starting camera."""
    n = len(shapes)
    crowded = n > 3  # narrow views: titles on two lines, smaller
    layout = {
        "height": 320,
        "margin": {"l": 0, "r": 0, "t": 40 if crowded else 28, "b": 0},
        "showlegend": False,
        "annotations": [],
    }
    data = []
    axis = {
        "range": [-0.55, 0.55],
        "showbackground": False,
        "showticklabels": False,
        "title": {"text": ""},
        "showgrid": True,
    }
    for k, (title, payload, colour) in enumerate(shapes):
        scene = "scene" if k == 0 else f"scene{k + 1}"
        trace = _trace(payload, colour, title)
        trace["scene"] = scene
        data.append(trace)
        layout[scene] = {
            "domain": {"x": [k / n, (k + 1) / n], "y": [0, 1]},
            "aspectmode": "cube",
            "xaxis": axis,
            "yaxis": axis,
            "zaxis": axis,
            # from the front (+x in ShapeNet's frame) and a little to one side
            "camera": {"up": {"x": 0, "y": 1, "z": 0}, "eye": {"x": 1.5, "y": 0.9, "z": -1.2}},
        }
        text = html.escape(title)
        if crowded:
            text = text.replace(" (", "<br>(")
        layout["annotations"].append(
            {
                "text": text,
                "x": (k + 0.5) / n,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "yanchor": "bottom",
                "font": {"size": 11 if crowded else 13},
            }
        )
    return {"data": data, "layout": layout}


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="plotly.min.js"></script>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }}
.sample {{ display: flex; align-items: center; border-top: 1px solid #ddd; padding: 0.5em 0; }}
.sample img {{ width: 160px; height: 160px; object-fit: contain; image-rendering: auto; margin-right: 1em; }}
.sample figure {{ margin: 0 0.5em 0 0; }} .sample figure img {{ margin-right: 0; background: #f4f4f4; }}
figcaption {{ font-size: 0.8em; color: #555; text-align: center; }}
.sample .plot {{ flex: 1; min-width: 0; }} .view {{ min-height: 320px; }} .caption {{ font-size: 0.85em; color: #555; }}
</style></head><body>
<h1>{title}</h1>
{header}
<p class="caption">Drag to turn a shape, scroll to zoom: the views of a row turn together.
Shapes are in the object frame
(y up); meshes are decimated to at most {max_faces} faces and clouds to {max_points} points for display.</p>
{rows}
<script>
window.addEventListener("error", (event) => console.error("viewer error: " + event.message));
const figures = {figures};
function link(div) {{
  let busy = false;
  div.on("plotly_relayout", (event) => {{
    if (busy) return;
    const key = Object.keys(event).find((k) => k.endsWith(".camera"));
    if (!key) return;
    const update = {{}};
    for (const scene of Object.keys(div.layout).filter((k) => k.startsWith("scene"))) {{
      update[scene + ".camera"] = event[key];
    }}
    busy = true;
    Plotly.relayout(div, update).then(() => {{ busy = false; }});
  }});
}}
// Each 3D view is a WebGL context and browsers keep only about 16 alive (Chromium drops the
// oldest past that, blanking it). So a row is drawn when it comes into view, releasing rows out
// of view when more than MAX_LIVE_SCENES views would be alive; when every live row is in view
// (many views per row on a tall screen) the new row waits for a click, which releases the
// row drawn first.
const MAX_LIVE_SCENES = {max_live_scenes};
const live = [], visible = new Set();
const liveScenes = () => live.reduce((total, id) => total + figures[id].data.length, 0);
function placeholder(id, text) {{
  Plotly.purge(document.getElementById(id));
  document.getElementById(id).innerHTML = `<p class="caption">${{text}}</p>`;
}}
function draw(id, clicked) {{
  if (live.includes(id)) return;
  while (live.length && liveScenes() + figures[id].data.length > MAX_LIVE_SCENES) {{
    const victim = live.find((k) => !visible.has(k)) ?? (clicked ? live[0] : undefined);
    if (victim === undefined) {{
      placeholder(id, "Click to draw these 3D views (the browser keeps only a few 3D views alive at once).");
      return;
    }}
    live.splice(live.indexOf(victim), 1);
    placeholder(victim,
      "3D views released to stay within the browser's WebGL limit: scroll here again or click to redraw.");
  }}
  live.push(id);
  const div = document.getElementById(id);
  div.innerHTML = "";
  Plotly.newPlot(div, figures[id].data, figures[id].layout, {{responsive: true, displaylogo: false}})
    .then(() => {{ link(div); console.log(`viewer: ${{id}} drawn, ${{liveScenes()}} live 3D views`); }},
          (error) => console.error("viewer error: " + error));
}}
const observer = new IntersectionObserver((entries) => {{
  for (const entry of entries) {{
    if (entry.isIntersecting) {{ visible.add(entry.target.id); draw(entry.target.id, false); }}
    else visible.delete(entry.target.id);
  }}
}}, {{rootMargin: "100px"}});
for (const id of Object.keys(figures)) {{
  const div = document.getElementById(id);
  div.addEventListener("click", () => draw(id, true));
  observer.observe(div);
}}
</script>
</body></html>
"""


# The committed copy of plotly.js (output/results/): pages are written with it where the plotly
# package is not installed (a bare GPU image, say).
COMMITTED_PLOTLY_JS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "output", "results", "plotly.min.js"
)


class NoPlotlyJs(Exception):
    """Neither the plotly package nor the committed plotly.min.js is there: no page can be drawn."""


def write_plotly_js(folder: str) -> str:
    """plotly.min.js beside the pages (written once; offline: no CDN): from the plotly package,
    else copied from the committed one (`COMMITTED_PLOTLY_JS`); NoPlotlyJs when neither exists."""
    path = os.path.join(folder, "plotly.min.js")
    if os.path.exists(path):
        return path
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        if not os.path.isfile(COMMITTED_PLOTLY_JS):
            raise NoPlotlyJs(
                f"no interactive page: the plotly package is not installed and {COMMITTED_PLOTLY_JS} is missing "
                "(pip install plotly)"
            ) from None
        import shutil

        with atomic_path(path) as tmp:
            shutil.copyfile(COMMITTED_PLOTLY_JS, tmp)  # bytes as they are, whatever the locale's encoding
        return path
    return atomic_write_text(path, get_plotlyjs())


def write_page(folder: str, title: str, header_html: str, samples: list[dict], name: str = "index.html") -> str:
    """Write folder/name (and plotly.min.js beside it). samples: dicts with "image" (a data URL
    or None) or "images" (a list of (label, data URL), shown side by side with their labels),
    "caption" (text) and "shapes", a list of (title, payload from `shape_payload`, colour).
    Returns the page's path."""
    os.makedirs(folder, exist_ok=True)
    write_plotly_js(folder)
    rows, figures = [], {}
    for k, sample in enumerate(samples):
        figures[f"plot{k}"] = figure_json(sample["shapes"])
        image = f'<img src="{sample["image"]}" alt="input">' if sample.get("image") else ""
        for label, url in sample.get("images", ()):  # several labelled images (input, mask, ...)
            label = html.escape(label)
            image += f'<figure><img src="{url}" alt="{label}"><figcaption>{label}</figcaption></figure>'
        rows.append(
            f'<div class="sample">{image}<div class="plot"><div class="caption">{html.escape(sample["caption"])}</div>'
            f'<div class="view" id="plot{k}"></div></div></div>'
        )
    text = PAGE.format(
        title=html.escape(title),
        header=header_html,
        rows="\n".join(rows),
        figures=json.dumps(figures, separators=(",", ":")).replace("</", "<\\/"),
        max_faces=MAX_FACES,
        max_points=MAX_POINTS,
        max_live_scenes=MAX_LIVE_SCENES,
    )
    return atomic_write_text(os.path.join(folder, name), text)


def summary_table(columns: list[str], rows: list[tuple[str, list[float]]]) -> str:
    """An HTML table: a header row of column names, then (label, values) rows."""
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"
    body = "".join(
        "<tr><th>"
        + html.escape(label)
        + "</th>"
        + "".join(f"<td>{v:.4g}</td>" if isinstance(v, float) else f"<td>{v}</td>" for v in values)
        + "</tr>"
        for label, values in rows
    )
    return f"<table>{head}{body}</table>"
