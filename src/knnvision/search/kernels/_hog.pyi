from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


@overload
def gradient_histograms(images: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], height: int, width: int, cell: int, n_bins: int, block: int, signed_bins: bool, out: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu')], n_threads: int) -> None: ...

@overload
def gradient_histograms(images: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], height: int, width: int, cell: int, n_bins: int, block: int, signed_bins: bool, out: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], n_threads: int) -> None: ...
