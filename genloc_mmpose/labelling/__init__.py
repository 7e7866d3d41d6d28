"""GenLoc inside labelling tools: a Label Studio ML backend (:mod:`.backend`, formats in
:mod:`.label_studio`) and a CVAT auto-annotation function (:mod:`.cvat`);
docs/labelling.md."""
