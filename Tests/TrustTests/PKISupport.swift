import Foundation
import TestKit
import Trust

extension TestPKI {
    func certificate(_ name: String) throws -> Certificate {
        let certificates = try PEM.certificates(Array(try Data(contentsOf: URL(fileURLWithPath: path("\(name).pem")))))
        guard let first = certificates.first else { throw Failure.openssl("no certificate in \(name).pem") }
        return first
    }
}
