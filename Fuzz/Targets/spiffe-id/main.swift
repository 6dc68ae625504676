import FuzzChecks
import FuzzDriver

runFuzzer(.spiffeID)
