"""Geometry in the object frame (y up, front +x, voxels [z, y, x] over [-0.5, 0.5]^3).

grids.py    voxel grids, meshes and point samples converted into each other; grids read at
            points; coarse-to-fine grid refinement (MISE)
frames.py   the 8 turns and mirrorings about y, on points and voxels; the frame check
"""
