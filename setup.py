"""GenLoc as an MMPose plugin: ``pip install .`` into an existing MMPose environment.

Dependencies are lower bounds only, so pip keeps the torch, mmcv, mmengine, mmdet and
mmpose a user has (README "Install into your MMPose environment"); the oldest versions
are the tested old stack, requirements/old-stack.txt.

The configs, tools and the demo's files (the miniature SD, example images) ship in
OpenMMLab's layout, ``genloc_mmpose/.mim/{configs,tools,demo,model-index.yml}`` (as
mmpose's own ``.mim``), for ``genloc_mmpose::`` config paths, ``mim train/test
genloc_mmpose`` and the console scripts (genloc_mmpose/resources.py finds them): copied
into the built package for a wheel (the source tree is left alone), symlinked into the
source package for an editable install.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

MIM_FILES = ('configs', 'tools', 'demo', 'model-index.yml')
IGNORED = shutil.ignore_patterns('__pycache__', '*.pyc')


class BuildPyWithMim(build_py):
    """``build_py`` that also adds ``genloc_mmpose/.mim``."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            # the package is imported from the source tree: link its .mim there
            self._add_mim(osp.join(osp.dirname(osp.abspath(__file__)), 'genloc_mmpose'),
                          link=True)
        else:
            self._add_mim(osp.join(self.build_lib, 'genloc_mmpose'), link=False)

    @staticmethod
    def _add_mim(package_dir: str, link: bool) -> None:
        root = osp.dirname(osp.abspath(__file__))
        mim = osp.join(package_dir, '.mim')
        os.makedirs(mim, exist_ok=True)
        for name in MIM_FILES:
            src, dst = osp.join(root, name), osp.join(mim, name)
            if osp.islink(dst) or osp.isfile(dst):
                os.remove(dst)
            elif osp.isdir(dst):
                shutil.rmtree(dst)
            if link:
                os.symlink(osp.relpath(src, mim), dst)
            elif osp.isdir(src):
                shutil.copytree(src, dst, ignore=IGNORED)
            else:
                shutil.copyfile(src, dst)


setup(
    name='genloc_mmpose',
    version='0.1.0',
    description='GenLoc: generalizable keypoint localization from Stable Diffusion '
    'priors, as an MMPose 1.x plugin',
    packages=find_packages(include=['genloc_mmpose', 'genloc_mmpose.*']),
    package_data={'genloc_mmpose': ['configs/*.json']},
    cmdclass={'build_py': BuildPyWithMim},
    # the README's commands after a plain `pip install` (tools/*.py in a checkout)
    entry_points={'console_scripts': [
        'genloc-train = genloc_mmpose.launcher:train',
        'genloc-test = genloc_mmpose.launcher:test',
        'genloc-new-keypoints = genloc_mmpose.custom_keypoints:main',
        'genloc-demo = genloc_mmpose.mini_sd.demo:cli',
        'genloc-app = genloc_mmpose.app.cli:main',
        'genloc-label-studio = genloc_mmpose.labelling.cli:main',
    ]},
    python_requires='>=3.9',
    # Lower bounds: the old stack (requirements/old-stack.txt), tested in .venv-old;
    # mmcv < 2.2 is mmdet 3.x's own bound. mmdet: person detectors for top-down
    # inference (MMPoseInferencer, the app's Look tab).
    install_requires=[
        'torch>=2.1', 'mmengine>=0.10.7', 'mmcv>=2.1.0,<2.2.0', 'mmdet>=3.3.0',
        'mmpose>=1.3.2', 'diffusers>=0.30.0', 'peft>=0.12.0', 'transformers>=4.44.0',
        'safetensors', 'numpy',
    ],
    extras_require={'export': ['onnx', 'onnxscript', 'onnxruntime'],
                    'app': ['gradio>=6.31,<7', 'pandas'],
                    'labs': ['sleap-io>=0.9.5'],
                    # the Label Studio ML backend and the CVAT function (docs/labelling.md)
                    'labelling': ['fastapi', 'uvicorn', 'requests', 'cvat-sdk>=2.80']},
    license='Apache-2.0',
)
