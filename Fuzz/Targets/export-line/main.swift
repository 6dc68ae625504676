import FuzzChecks
import FuzzDriver

runFuzzer(.exportLine)
