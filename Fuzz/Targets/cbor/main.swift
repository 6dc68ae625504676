import FuzzChecks
import FuzzDriver

runFuzzer(.cbor)
