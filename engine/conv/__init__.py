"""1-D convolution: the filter's geometry, conv1d forward and backward, and many small
problems at once."""

from engine.conv.api import ConvResult, ConvResults, conv1d, conv1d_backward, conv1d_many
from engine.conv.geometry import ConvGeometry, conv_geometry

__all__ = ["ConvGeometry", "ConvResult", "ConvResults", "conv1d", "conv1d_backward", "conv1d_many",
           "conv_geometry"]
