import FuzzChecks
import FuzzDriver

runFuzzer(.projections)
