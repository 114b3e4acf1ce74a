from typing import Annotated

import numpy
from numpy.typing import NDArray


def merge_topk_into(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg1: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg2: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu', writable=False)], /) -> None: ...

def topk_push(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg1: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg2: int, arg3: float, arg4: int, /) -> bool: ...

def cpu_level() -> str:
    """The code path the kernels take on this CPU (after KNNVISION_CPU)."""
