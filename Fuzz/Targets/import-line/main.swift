import FuzzChecks
import FuzzDriver

runFuzzer(.importLine)
