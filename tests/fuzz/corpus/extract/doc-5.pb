
seed-5_According to the Ministry of Water Resources, the dam holds. “It holds,” the ministry said.
kv