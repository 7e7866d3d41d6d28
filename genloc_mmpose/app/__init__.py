"""GenLoc in the browser (``genloc-app``, ``python tools/app.py`` in a checkout;
docs/app.md): Look at keypoints and correlation maps, find keypoints By name, Teach a
new keypoint set. Needs the ``app`` extra (``pip install genloc_mmpose[app]``). Without
CONFIG CHECKPOINT it serves the model ``genloc-demo`` leaves under the working
directory (:data:`genloc_mmpose.resources.DEMO_CONFIG`)."""
