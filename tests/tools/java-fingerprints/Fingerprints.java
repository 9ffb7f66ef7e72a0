// Prints name, Parsing Canonical Form and CRC-64-AVRO fingerprint of each .avsc, as Apache Avro for Java computes them.
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

public class Fingerprints {
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: java -cp CLASSPATH Fingerprints.java FILE.avsc...");
            System.exit(2);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        int failed = 0;
        for (String path : args) {
            File f = new File(path);
            String name = f.getName().replaceFirst("\\.avsc$", "");
            try {
                // One parser per file: each file is a schema of its own, and names must not leak between them.
                Schema s = new Schema.Parser().parse(f);
                // parsingFingerprint64 is a signed long; the C side prints the same 64 bits unsigned.
                out.println(name + "\t" + SchemaNormalization.toParsingForm(s) + "\t"
                        + Long.toUnsignedString(SchemaNormalization.parsingFingerprint64(s)));
            } catch (Exception e) {
                System.err.println(path + ": " + e.getMessage());
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
