import FuzzChecks
import FuzzDriver

runFuzzer(.snapshot)
