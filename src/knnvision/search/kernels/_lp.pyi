from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def reduced_distance(kind: int, A: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], i: int, B: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], j: int, p: float, norm_a: float, norm_b: float) -> float: ...

@overload
def generic_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg6: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg7: int, /) -> None: ...

@overload
def generic_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg6: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg7: int, /) -> None: ...

@overload
def generic_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg6: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg7: int, /) -> None: ...
