from setuptools import find_packages, setup

setup(
    name='genloc_mmpose',
    version='0.1.0',
    description='GenLoc: generalizable keypoint localization from Stable Diffusion '
    'priors, as an MMPose 1.x plugin',
    packages=find_packages(include=['genloc_mmpose', 'genloc_mmpose.*']),
    package_data={'genloc_mmpose': ['configs/*.json']},
    python_requires='>=3.9',
    install_requires=[
        'torch', 'mmengine>=0.10', 'mmcv>=2.0.0,<2.2.0', 'mmpose>=1.3',
        'diffusers>=0.30', 'peft>=0.12',
    ],
    extras_require={'export': ['onnx', 'onnxscript', 'onnxruntime'],
                    'app': ['gradio>=6.31,<7', 'pandas']},
    license='Apache-2.0',
)
