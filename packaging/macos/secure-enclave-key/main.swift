// stethoscope-secure-enclave: the device key of Stethoscope Desktop in this Mac's Secure Enclave.
//
// A P-256 signing key made by the Secure Enclave through CryptoKit. The key never leaves the
// Secure Enclave: what CryptoKit hands out (`dataRepresentation`) is the key wrapped so that only
// this Mac's Secure Enclave can use it. The app keeps that blob in a file only the user can read
// (stethoscope_desktop/device_trust/macos_enclave.py); no keychain item is made, so no keychain
// entitlement or provisioning profile is needed. The key is usable after the first unlock since
// start-up, on this device only, without Touch ID or a password.
//
// Built by packaging/build-frozen.sh on macOS (swiftc, macOS 12 or later) and bundled in
// Stethoscope.app beside the app's own binaries; signed with the app.
//
// Protocol (version 1), one command per run:
//
//   stethoscope-secure-enclave COMMAND   input on standard input (read to its end, 1 MiB at most)
//
//   available   -> "ok yes" or "ok no": whether this Mac has a Secure Enclave CryptoKit can use
//   create      -> "ok BLOB PUBLIC": a new key; BLOB is its wrapped form, PUBLIC its public key
//                  in X9.63 form (04 || X || Y, 65 bytes)
//   sign        input "BLOB\nMESSAGE\n" -> "ok SIGNATURE": the DER ECDSA signature of MESSAGE
//                  with SHA-256 (CryptoKit hashes it)
//
// BLOB, PUBLIC, MESSAGE and SIGNATURE are standard base64. The answer is one line on standard
// output; an error is "error KIND TEXT", KIND one of
//   unavailable  this Mac has no Secure Enclave
//   refused      the Secure Enclave does not take the blob (made on another Mac, or corrupt)
//   failed       the Secure Enclave did not make a key or a signature (TEXT says why)
//   input        the command or its input is not as above
// Exit status: 0 after "ok", 1 after "error", 2 for an unknown command.

import CryptoKit
import Foundation
import Security

let maximumInputBytes = 1_048_576 + 4_096

func answer(_ fields: [String]) -> Never {
    FileHandle.standardOutput.write(("ok " + fields.joined(separator: " ") + "\n").data(using: .utf8)!)
    exit(0)
}

func fail(_ kind: String, _ text: String, status: Int32 = 1) -> Never {
    let oneLine = text.components(separatedBy: .newlines).joined(separator: " ")
    FileHandle.standardOutput.write("error \(kind) \(oneLine)\n".data(using: .utf8)!)
    exit(status)
}

/// The lines of standard input (read to its end), at most `maximumInputBytes`.
func inputLines() -> [String] {
    var input = Data()
    while input.count <= maximumInputBytes {
        let chunk = FileHandle.standardInput.readData(ofLength: 65_536)
        if chunk.isEmpty {
            break
        }
        input.append(chunk)
    }
    if input.count > maximumInputBytes {
        fail("input", "more than \(maximumInputBytes) bytes on standard input")
    }
    guard let text = String(data: input, encoding: .utf8) else {
        fail("input", "standard input is not UTF-8")
    }
    return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

func decoded(_ text: String, _ what: String) -> Data {
    guard let data = Data(base64Encoded: text) else {
        fail("input", "the \(what) is not base64")
    }
    return data
}

func accessControl() -> SecAccessControl {
    // Usable from the first unlock after start-up until shut-down, on this device only, by
    // whoever holds the blob and runs as this user: no prompt when a login page asks for a token.
    var error: Unmanaged<CFError>?
    guard
        let control = SecAccessControlCreateWithFlags(
            kCFAllocatorDefault, kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly, .privateKeyUsage,
            &error)
    else {
        let reason = error.map { String(describing: $0.takeRetainedValue()) } ?? "unknown error"
        fail("failed", "no access control for the key: \(reason)")
    }
    return control
}

func create() -> Never {
    guard SecureEnclave.isAvailable else {
        fail("unavailable", "this Mac has no Secure Enclave")
    }
    let key: SecureEnclave.P256.Signing.PrivateKey
    do {
        key = try SecureEnclave.P256.Signing.PrivateKey(accessControl: accessControl())
    } catch {
        fail("failed", "the Secure Enclave made no key: \(error)")
    }
    answer([
        key.dataRepresentation.base64EncodedString(),
        key.publicKey.x963Representation.base64EncodedString(),
    ])
}

func sign() -> Never {
    let lines = inputLines()
    guard lines.count >= 2, lines.dropFirst(2).allSatisfy({ $0.isEmpty }) else {
        fail("input", "sign reads two lines: the key's blob and the message, in base64")
    }
    let blob = decoded(lines[0], "key's blob")
    let message = decoded(lines[1], "message")
    guard SecureEnclave.isAvailable else {
        fail("unavailable", "this Mac has no Secure Enclave")
    }
    let key: SecureEnclave.P256.Signing.PrivateKey
    do {
        key = try SecureEnclave.P256.Signing.PrivateKey(dataRepresentation: blob)
    } catch {
        fail("refused", "the Secure Enclave does not take this key: \(error)")
    }
    do {
        let signature = try key.signature(for: message)
        answer([signature.derRepresentation.base64EncodedString()])
    } catch {
        fail("failed", "the Secure Enclave did not sign: \(error)")
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    fail("input", "usage: stethoscope-secure-enclave available|create|sign", status: 2)
}
switch arguments[1] {
case "available":
    answer([SecureEnclave.isAvailable ? "yes" : "no"])
case "create":
    create()
case "sign":
    sign()
default:
    fail("input", "unknown command \(arguments[1]): available, create or sign", status: 2)
}
