from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


DOT_ROWS: int = 4

DOT_COLS: int = 4

DOT_WIDTH: int = 64

def vnni_path() -> bool:
    """
    Whether the AVX-512 VNNI path runs (the CPU has it and KNNVISION_CPU allows it).
    """

def u8_dot_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: int, arg6: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg7: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg8: int, /) -> None: ...

TILE_ROWS: int = 16

PANEL_TILES: int = 4

PANEL_QUERIES: int = 6

TILE_MAX_WIDTH: int = 16384

def tile_rows(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu')], /) -> None: ...

def u8_tiles_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: int, arg6: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg7: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg8: int, /) -> None: ...

def u8_tiles_cosine_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: int, arg6: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg7: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg8: int, /) -> None: ...

def u8_tiles_quantized_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg6: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg7: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu', writable=False)], arg8: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg10: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg11: int, arg12: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg13: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg14: int, /) -> None: ...

@overload
def quantize_rows(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu')], arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu')], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg4: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg6: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], arg7: int, /) -> None: ...

@overload
def quantize_rows(arg0: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu')], arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu')], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg4: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg5: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg6: Annotated[NDArray[numpy.int32], dict(shape=(None,), order='C', device='cpu')], arg7: int, /) -> None: ...

def inverse_norms(arg0: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], /) -> None: ...

def u8_dot_cosine_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: int, arg6: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg7: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg8: int, /) -> None: ...

def u8_dot_radius(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.int8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: int, arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: int, arg6: float, arg7: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg10: int, /) -> int: ...

def squared_norms_u8(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], /) -> None: ...
