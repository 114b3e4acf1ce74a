from typing import Annotated, overload

import numpy
from numpy.typing import NDArray


@overload
def lp_estimate_topk(arg0: int, arg1: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: int, arg6: int, arg7: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg10: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg11: int, /) -> None: ...

@overload
def lp_estimate_topk(arg0: int, arg1: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: int, arg6: int, arg7: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg10: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg11: int, /) -> None: ...

@overload
def lp_estimate_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: int, arg6: int, arg7: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg10: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg11: int, /) -> None: ...

@overload
def lp_estimate_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.float32], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: int, arg6: int, arg7: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg10: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg11: int, /) -> None: ...

@overload
def lp_estimate_topk(arg0: int, arg1: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg2: Annotated[NDArray[numpy.uint8], dict(shape=(None, None), order='C', device='cpu', writable=False)], arg3: float, arg4: int, arg5: int, arg6: int, arg7: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg8: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg9: Annotated[NDArray[numpy.float64], dict(shape=(None, None), order='C', device='cpu')], arg10: Annotated[NDArray[numpy.int64], dict(shape=(None, None), order='C', device='cpu')], arg11: int, /) -> None: ...
