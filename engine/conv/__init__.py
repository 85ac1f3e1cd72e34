"""1-D convolution: the filter's geometry (geometry), the Numba kernels (kernels), one
problem at a time (api: conv1d, conv1d_backward) and many small problems at once (many:
conv1d_many)."""

from engine.conv.api import conv1d, conv1d_backward
from engine.conv.geometry import ConvGeometry, conv_geometry
from engine.conv.many import ConvResult, ConvResults, PackedConvResults, conv1d_many, conv1d_packed

__all__ = ["ConvGeometry", "ConvResult", "ConvResults", "PackedConvResults", "conv1d",
           "conv1d_backward", "conv1d_many", "conv1d_packed", "conv_geometry"]
