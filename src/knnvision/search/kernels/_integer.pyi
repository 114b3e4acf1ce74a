from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


U8_WIDTH: int = 32

def simd_path() -> bool:
    """
    Whether the AVX2 path runs (the CPU has it and KNNVISION_CPU allows it).
    """

def sad_u8(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, /) -> int: ...

def sqd_u8(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, /) -> int: ...

def sad_u8_x2(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, /) -> tuple[int, int]: ...

def u8_topk(arg0: bool, arg1: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg6: int, /) -> None: ...

def u8_topk_few(arg0: bool, arg1: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg6: int, /) -> None: ...

@overload
def grid_codes(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: float, arg2: int, arg3: bool, arg4: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], arg6: int, /) -> bool: ...

@overload
def grid_codes(arg0: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: float, arg2: int, arg3: bool, arg4: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], arg6: int, /) -> bool: ...
