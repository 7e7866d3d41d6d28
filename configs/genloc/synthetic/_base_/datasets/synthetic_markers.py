# MMPose metainfo of the procedural "marker creature" dataset made by
# tools/misc/make_synthetic_keypoints.py (use as metainfo=dict(from_file=...)).
# Each keypoint is a marker of its own colour/shape; a left/right pair shares a
# colour and its two glyphs are mirror images of each other, so a horizontal flip
# turns one into the other: `swap` (-> flip_indices) encodes exactly that.
dataset_info = dict(
    dataset_name='synthetic_markers',
    paper_info=dict(
        author='genloc-mmpose',
        title='Procedural marker creatures (tools/misc/make_synthetic_keypoints.py)',
        container='',
        year='2025',
        homepage=''),
    keypoint_info={
        0: dict(name='crown', id=0, color=[255, 0, 0], type='upper', swap=''),
        1: dict(name='core', id=1, color=[0, 0, 255], type='upper', swap=''),
        2: dict(name='tail', id=2, color=[255, 255, 0], type='lower', swap=''),
        3: dict(name='left_wing', id=3, color=[255, 0, 255], type='upper',
                swap='right_wing'),
        4: dict(name='right_wing', id=4, color=[255, 0, 255], type='upper',
                swap='left_wing'),
        5: dict(name='left_hand', id=5, color=[0, 255, 255], type='upper',
                swap='right_hand'),
        6: dict(name='right_hand', id=6, color=[0, 255, 255], type='upper',
                swap='left_hand'),
        7: dict(name='left_foot', id=7, color=[255, 128, 0], type='lower',
                swap='right_foot'),
        8: dict(name='right_foot', id=8, color=[255, 128, 0], type='lower',
                swap='left_foot'),
    },
    skeleton_info={
        0: dict(link=('crown', 'core'), id=0, color=[128, 128, 128]),
        1: dict(link=('core', 'tail'), id=1, color=[128, 128, 128]),
        2: dict(link=('core', 'left_wing'), id=2, color=[128, 128, 128]),
        3: dict(link=('core', 'right_wing'), id=3, color=[128, 128, 128]),
        4: dict(link=('left_wing', 'left_hand'), id=4, color=[128, 128, 128]),
        5: dict(link=('right_wing', 'right_hand'), id=5, color=[128, 128, 128]),
        6: dict(link=('tail', 'left_foot'), id=6, color=[128, 128, 128]),
        7: dict(link=('tail', 'right_foot'), id=7, color=[128, 128, 128]),
    },
    joint_weights=[1.0] * 9,
    # OKS sigmas: every marker is a point of the same size, cf. COCO's eyes (0.025)
    # and hips (0.107).
    sigmas=[0.05] * 9)
