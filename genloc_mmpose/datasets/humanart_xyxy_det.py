"""Human-Art with its released person detections, whose boxes are x1, y1, x2, y2."""
from mmpose.datasets import HumanArtDataset
from mmpose.registry import DATASETS


@DATASETS.register_module()
class HumanArtXYXYDetDataset(HumanArtDataset):
    """mmpose's ``HumanArtDataset`` for a ``bbox_file`` holding x1, y1, x2, y2 boxes.

    Human-Art's ``HumanArt_validation_detections_AP_H_56_person.json`` stores boxes
    as x1, y1, x2, y2, while ``HumanArtDataset`` reads every ``bbox_file`` as COCO's
    x, y, w, h: each box would grow by its top-left corner, silently. A box whose
    x2 <= x1 or y2 <= y1 cannot be x1, y1, x2, y2 and raises an error.
    """

    def _load_detection_results(self):
        data_list = super()._load_detection_results()
        for info in data_list:
            box = info['bbox']  # read as x, y, w, h: (x1, y1, x1 + x2, y1 + y2)
            box[:, 2:] -= box[:, :2]
            if (box[:, 2:] <= box[:, :2]).any():
                raise ValueError(
                    f'{self.bbox_file}: box {box[0].tolist()} of image {info["img_id"]} '
                    'is not x1, y1, x2, y2 (x2 <= x1 or y2 <= y1). For a bbox_file of '
                    "COCO x, y, w, h boxes use type='HumanArtDataset'.")
        return data_list
