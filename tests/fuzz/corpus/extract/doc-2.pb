
seed-2hChen Wei-lun, a professor at National Tsing Hua University, said the plan had failed.

He said it twice.
kv