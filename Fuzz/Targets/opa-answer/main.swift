import FuzzChecks
import FuzzDriver

runFuzzer(.opaAnswer)
