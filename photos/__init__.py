"""Photos made ready for a model trained on renderings (`reconstruct.py`).

files.py     image files read as they look (EXIF orientation, CMYK, palette transparency)
prepare.py   the object's mask (alpha, given, or automatic), composited on white, framed as
             the renderings are
"""
