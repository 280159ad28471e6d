// Creates Kafka ACLs with the Admin client of the Kafka jars the project already resolves
// (deploy/kafka/pom.xml), so no Kafka command-line tools are needed. Run as a single source
// file (Java 11+ compiles it in memory):
//   java -cp '<kafka libs>/*' deploy/kafka/KafkaAcls.java <admin.properties> <acls.tsv>
// acls.tsv: one binding per line, tab separated:
//   principal  resourceType  resourceName  patternType  operation
//   User:careflow-queue  TOPIC  careflow.queue.events  LITERAL  WRITE
// Every binding allows, from any host. Used by careflow.cli.kafka_tls for the ACL test profile.
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            config.load(in);
        }
        List<AclBinding> bindings = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            bindings.add(new AclBinding(
                new ResourcePattern(
                    ResourceType.fromString(f[1].toUpperCase(Locale.ROOT)),
                    f[2],
                    PatternType.fromString(f[3].toUpperCase(Locale.ROOT))),
                new AccessControlEntry(
                    f[0], "*", AclOperation.fromString(f[4].toUpperCase(Locale.ROOT)),
                    AclPermissionType.ALLOW)));
        }
        try (Admin admin = Admin.create(config)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("created " + bindings.size() + " ACL bindings");
    }
}
