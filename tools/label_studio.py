"""GenLoc in Label Studio (docs/labelling.md): `config` writes a project's labelling
config for a keypoint set, `serve` runs GenLoc as the project's ML backend.

Usage: python tools/label_studio.py config (--checkpoint PTH | --metainfo FILE) [-o XML]
       python tools/label_studio.py serve [CONFIG CHECKPOINT] [--port 9090] [--work-dir DIR]
"""
from genloc_mmpose.labelling.cli import main

if __name__ == '__main__':
    main()
