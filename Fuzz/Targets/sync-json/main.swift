import FuzzChecks
import FuzzDriver

runFuzzer(.syncJSON)
