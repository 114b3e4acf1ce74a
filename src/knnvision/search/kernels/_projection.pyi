from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


@overload
def projected_bounds(arg0: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg3: float, arg4: float, arg5: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], /) -> None: ...

@overload
def projected_bounds(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg3: float, arg4: float, arg5: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], /) -> None: ...

@overload
def filtered_euclidean_topk(arg0: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: float, arg6: float, arg7: bool, arg8: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], /) -> int: ...

@overload
def filtered_euclidean_topk(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: float, arg6: float, arg7: bool, arg8: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], /) -> int: ...

@overload
def filtered_euclidean_topk(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: float, arg6: float, arg7: bool, arg8: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], /) -> int: ...

@overload
def filtered_euclidean_topk(arg0: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg1: int, arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg4: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu', writable=False)], arg5: float, arg6: float, arg7: bool, arg8: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.int64], dict(shape=(None,), order='C', device='cpu')], /) -> int: ...
