"""What every stage shares: small helpers that import nothing else of the project.

atomic_io.py   files written whole (a temporary file, then a rename)
cli.py         the command lines' flag types, one-line errors, device choice
precision.py   float32 blocks under bf16 autocast (coordinates, losses, PyTorch3D's ops)
"""
